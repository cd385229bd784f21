/**
 * The port's minimal view of a sink. Structurally the same as ../sink/sink.ts's PortSink (built by
 * the sink module), so any of those sinks (or a SinkSet) can be handed to a port.
 *
 * Contract used here: write() gets a chunk the port already copied out of guest memory and never
 * blocks; before popping more transmit chains the port asks wantsMore(); when false it leaves the
 * guest's chains in the ring (the guest blocks, nothing is lost) and resumes from onDrain().
 */
export interface PortSink {
  write(chunk: Uint8Array, at: number): void;
  flush?(): Promise<void>;
  close(): Promise<void>;
  wantsMore?(): boolean;
  onDrain?(listener: () => void): () => void;
}
