/**
 * The port's view of a sink is the sink module's PortSink (../sink/sink.ts).
 *
 * Contract used here: write() gets a chunk the port already copied out of guest memory and never
 * blocks; before popping more transmit chains the port asks wantsMore(); when false it leaves the
 * guest's chains in the ring (the guest blocks, nothing is lost) and resumes from onDrain().
 */
export type { PortSink } from '../sink/sink.js';
