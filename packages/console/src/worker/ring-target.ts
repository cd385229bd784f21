/**
 * RingTarget: the worker's TransmitTarget (port/transmit.ts). Each chain's bytes are copied from
 * guest memory straight into the shard's byte ring (byte-ring.ts), allocating nothing; the pass
 * publishes the ring tail (handOver) before the used entries, so a used chain's bytes are already
 * the main thread's. A chain bigger than the ring's free space is copied once and written in
 * pieces; it is held (not used) until its last piece is in the ring.
 */
import type { RawChain } from '@vtcon/ring';
import type { TransmitTarget } from '../port/transmit.js';
import { RECORD_COMPLETE, type RingWriter } from './byte-ring.js';

/** The transmitq state a pass into the ring reads and updates. */
export interface RingPort {
  readonly dev: number;
  readonly port: number;
  /** Bytes posted to main not yet credited back. */
  outstanding: number;
  window: number;
  /** A popped chain too big for the ring's free space, written in pieces; used when done. */
  partial: { head: number; bytes: Uint8Array; off: number } | null;
}

export class RingTarget implements TransmitTarget {
  /** The transmitq of the current pass (set before each pass: one target per shard). */
  q: RingPort | null = null;
  /** The last handOver() published records: the main thread has bytes to read. */
  published = false;

  constructor(private readonly ring: RingWriter) {}

  resumeHeld(logged: Uint8Array[] | null): number | 'waiting' | null {
    const p = this.q!.partial;
    if (p === null) return null;
    return this.flushPartial(logged) ? p.head : 'waiting';
  }

  ready(): boolean {
    return this.q!.outstanding < this.q!.window; // wait for credit (backpressure)
  }

  take(chain: RawChain, len: number, logged: Uint8Array[] | null): boolean {
    const q = this.q!;
    const ring = this.ring;
    const at = len <= ring.maxPiece ? ring.reserve(len, q.dev, q.port) : -1; // appended to the port's open record if it can
    if (at >= 0) {
      chain.copyReadable(ring.data, at);
      logged?.push(ring.data.subarray(at, at + len)); // a view: valid until publish
      ring.commit(q.dev, q.port, len, RECORD_COMPLETE | 1);
      q.outstanding += len;
      return true;
    }
    const bytes = new Uint8Array(len);
    chain.copyReadable(bytes, 0);
    q.partial = { head: chain.head, bytes, off: 0 };
    return this.flushPartial(logged);
  }

  handOver(): void {
    this.published = this.ring.publish();
  }

  /** Write what is left of q.partial; true when the chain is complete (its bytes logged). */
  private flushPartial(logged: Uint8Array[] | null): boolean {
    const q = this.q!;
    const p = q.partial!;
    const ring = this.ring;
    while (p.off < p.bytes.length) {
      const n = Math.min(p.bytes.length - p.off, ring.maxPiece);
      const at = ring.reserve(n);
      if (at < 0) return false; // the pass publishes what fit, then the worker waits for space
      ring.data.set(p.bytes.subarray(p.off, p.off + n), at);
      p.off += n;
      const last = p.off === p.bytes.length;
      ring.commit(q.dev, q.port, n, last ? RECORD_COMPLETE | 1 : 0);
      q.outstanding += n;
    }
    logged?.push(p.bytes);
    q.partial = null;
    return true;
  }
}
