/**
 * PortSink: where a port hands the guest→host bytes it copied out of the transmitq.
 *
 * Caller contract (the port / device, main thread or the worker that owns the port):
 *  - write() is called with a view that is only valid during the call (it may point into
 *    guest memory): every sink copies what it keeps before returning.
 *  - write() never blocks and never throws for flow-control reasons; it queues and returns so
 *    the port can push the used entry at once (a Linux hvc writer spins until then).
 *  - Backpressure is pull-based: before popping more transmit chains the port asks
 *    wantsMore(); when it says false the port leaves the chains in the ring (the guest
 *    blocks, nothing is lost) and resumes on the 'drain' listener registered via onDrain().
 *    Memory above a sink's high-water mark is therefore bounded by what the port accepted
 *    in the batch during which the mark was crossed.
 *  - flush() resolves once everything accepted so far is durable/delivered as far as the
 *    sink can tell; close() flushes and releases resources. write() after close() throws
 *    ConsoleError('SINK_CLOSED').
 */

export interface PortSink {
  write(chunk: Uint8Array, at: number /* Date.now() */): void;
  flush?(): Promise<void>;
  close(): Promise<void>;
  /** false = the port should stop consuming the transmitq until the drain listener fires. */
  wantsMore?(): boolean;
  /** Registers a listener called when wantsMore() turns true again; returns an unsubscribe. */
  onDrain?(listener: () => void): () => void;
}

/**
 * SinkSet: fans one port's bytes out to several sinks and combines their flow control
 * (wantsMore = every sink wants more; drain fires when the last blocked sink drains).
 * A sink that throws from write() does not keep the others from receiving the chunk;
 * the first error is rethrown after all sinks have been offered the chunk.
 */
export class SinkSet implements PortSink {
  private readonly sinks: PortSink[];

  constructor(sinks: PortSink[]) {
    this.sinks = [...sinks];
  }

  get members(): readonly PortSink[] {
    return this.sinks;
  }

  add(sink: PortSink): void {
    this.sinks.push(sink);
  }

  /** Removes a sink without closing it (e.g. a sink reconfigured by SIGHUP). */
  remove(sink: PortSink): boolean {
    const i = this.sinks.indexOf(sink);
    if (i < 0) return false;
    this.sinks.splice(i, 1);
    return true;
  }

  write(chunk: Uint8Array, at: number): void {
    let first: unknown;
    for (const s of this.sinks) {
      try {
        s.write(chunk, at);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }

  wantsMore(): boolean {
    return this.sinks.every((s) => s.wantsMore === undefined || s.wantsMore());
  }

  onDrain(listener: () => void): () => void {
    // Fire the caller's listener only when the combined condition holds, so the port
    // does not resume while another sink is still over its mark.
    const unsubs = this.sinks.map((s) => s.onDrain?.(() => {
      if (this.wantsMore()) listener();
    }));
    return () => {
      for (const u of unsubs) u?.();
    };
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.()));
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.sinks.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
