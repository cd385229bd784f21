/**
 * ShardRing: the guest→host byte path from a servicing worker to the main thread, one per shard.
 *
 * Why: a MessagePort hop per transmit chain (structured clone + a transferred ArrayBuffer + a
 * credit message back) cost more than the ring work itself. Here the worker copies a chain's
 * bytes straight from guest memory into a SharedArrayBuffer the main thread owns, publishes the
 * ring tail with one Atomics.store and only then marks the chain used — so bytes of a used chain
 * survive the worker dying. The main thread drains whole batches per wake-up.
 *
 * Layout: a 64-byte control block of Int32 words (HEAD, TAIL: free-running byte counters; SEQ:
 * bumped per publish, the word the main thread Atomics.waitAsync's on; MAIN_WAITING; SPACE_WAIT:
 * the worker is waiting for room), then `capacity` (power of two) data bytes holding 16-byte
 * aligned records: u32 len, u32 dev, u32 port, u32 flags (COMPLETE | chains), payload. A record
 * never wraps: the writer fills the end with a PAD record (len 0xffffffff) instead.
 * A chain bigger than a piece is written as several records; only the last one is COMPLETE, so
 * the reader holds the earlier pieces until then (and drops them if the worker died).
 * Consecutive complete chains of one port in one publish share a record (reserve with the port):
 * its payload is their bytes back to back and its flags count them. The reader then pays per
 * record (a callback, a sink delivery) once per port and pass, not once per chain, which is what
 * the main thread cannot hand to a second worker.
 *
 * Ordering (ECMAScript memory model, SeqCst Atomics): plain payload/header stores happen before the
 * writer's Atomics.store(TAIL), the reader's Atomics.load(TAIL) synchronizes with it; likewise
 * for HEAD in the other direction. MAIN_WAITING / SPACE_WAIT are Dekker pairs (store own flag,
 * then re-read the other side's counter), so no wake-up is lost.
 *
 * One writer thread (the shard's worker) and one reader thread (main) per ring.
 */

/** Atomics.waitAsync (ES2024; in Node ≥ 16) — the compile target's lib predates it. */
type WaitAsync = (ta: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const HEAD = 0;
const TAIL = 1;
const SEQ = 2;
const MAIN_WAITING = 3;
const SPACE_WAIT = 4;
const CONTROL_BYTES = 64;
const HEADER = 16;
const PAD = 0xffffffff;
export const RECORD_COMPLETE = 0x40000000;
export const DEFAULT_RING_BYTES = 1 << 20;

const recordBytes = (len: number): number => HEADER + ((len + 15) & ~15);

export function createRingBuffer(capacity = DEFAULT_RING_BYTES): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 4096 || (capacity & (capacity - 1)) !== 0 || capacity > 1 << 30) {
    throw new RangeError(`ring capacity ${capacity}: a power of two in [4096, 2^30]`);
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

class RingView {
  readonly ctl: Int32Array;
  readonly data: Uint8Array;
  protected readonly words: Uint32Array;
  readonly capacity: number;
  protected readonly mask: number;
  constructor(readonly sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.capacity = sab.byteLength - CONTROL_BYTES;
    this.mask = this.capacity - 1;
    this.data = new Uint8Array(sab, CONTROL_BYTES, this.capacity);
    this.words = new Uint32Array(sab, CONTROL_BYTES, this.capacity / 4);
  }
  /** Bytes written and not yet drained. */
  get used(): number { return (Atomics.load(this.ctl, TAIL) - Atomics.load(this.ctl, HEAD)) | 0; }
}

/** Worker side. */
export class RingWriter extends RingView {
  /** Local tail: records written but not yet published. */
  private tail: number;
  private pending = -1;
  /**
   * The last record committed since the last publish, if complete and not a piece: a later chain
   * of the same (dev, port) is appended to it. null once published (the reader may read it).
   */
  private open: { start: number; dev: number; port: number; len: number; chains: number } | null = null;
  /** reserve() placed the payload at the end of `open`. */
  private appending = false;
  /** Largest payload written as one record; bigger chains go in pieces of this size. */
  readonly maxPiece: number;
  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.tail = Atomics.load(this.ctl, TAIL);
    this.maxPiece = this.capacity / 4 - HEADER;
  }

  /**
   * Room for a `len`-byte payload (len ≤ maxPiece)? Returns the data offset to copy the payload
   * to, then call commit(); -1 if the ring is too full now. With `dev`/`port` (a whole chain, to be
   * committed as COMPLETE | 1 for that port) the payload may go at the end of the open record.
   */
  reserve(len: number, dev = -1, port = -1): number {
    const o = this.open;
    if (o !== null && o.dev === dev && o.port === port && o.chains < 0xffff && o.len + len <= this.maxPiece) {
      const p = o.start & this.mask;
      const end = (o.start + recordBytes(o.len + len)) | 0;
      // Never wraps (a record is contiguous) and never overtakes the reader.
      if (p + recordBytes(o.len + len) <= this.capacity && ((end - Atomics.load(this.ctl, HEAD)) | 0) <= this.capacity) {
        this.appending = true;
        return p + HEADER + o.len;
      }
    }
    this.open = null;
    if (!this.fits(len)) return -1;
    const rec = recordBytes(len);
    const p = this.tail & this.mask;
    const toEnd = this.capacity - p;
    let at = p;
    if (rec > toEnd) {
      this.words[p >>> 2] = PAD;
      this.tail = (this.tail + toEnd) | 0;
      at = 0;
    }
    this.pending = at;
    if (dev >= 0) this.open = { start: this.tail, dev, port, len: 0, chains: 0 };
    return at + HEADER;
  }

  private fits(len: number): boolean {
    const rec = recordBytes(len);
    const toEnd = this.capacity - (this.tail & this.mask);
    const need = rec <= toEnd ? rec : toEnd + rec;
    return need <= this.capacity - ((this.tail - Atomics.load(this.ctl, HEAD)) | 0);
  }

  /** Write the header of the record reserve() placed (its payload already copied). */
  commit(dev: number, port: number, len: number, flags: number): void {
    const o = this.open;
    if (this.appending && o !== null) {
      this.appending = false;
      o.len += len;
      o.chains += flags & 0xffff;
      const w = (o.start & this.mask) >>> 2;
      this.words[w] = o.len;
      this.words[w + 3] = RECORD_COMPLETE | o.chains;
      this.tail = (o.start + recordBytes(o.len)) | 0;
      return;
    }
    if (o !== null) {
      if ((flags & RECORD_COMPLETE) !== 0 && o.dev === dev && o.port === port) { o.len = len; o.chains = flags & 0xffff; } else this.open = null;
    }
    const w = this.pending >>> 2;
    this.words[w] = len;
    this.words[w + 1] = dev;
    this.words[w + 2] = port;
    this.words[w + 3] = flags;
    this.tail = (this.tail + recordBytes(len)) | 0;
    this.pending = -1;
  }

  /** Make committed records visible to the reader (one Atomics store). */
  publish(): boolean {
    this.open = null;
    if (Atomics.load(this.ctl, TAIL) === this.tail) return false;
    Atomics.store(this.ctl, TAIL, this.tail);
    Atomics.add(this.ctl, SEQ, 1);
    return true;
  }

  /** Wake the reader if it sleeps. Call after publish(), off the guest's latency path. */
  wakeReader(): void {
    if (Atomics.load(this.ctl, MAIN_WAITING) === 1) Atomics.notify(this.ctl, SEQ, 1);
  }

  /**
   * Ask the reader to signal when it frees space. Returns true if `len` fits already (then
   * nothing is pending and the caller retries at once).
   */
  waitForSpace(len: number): boolean {
    Atomics.store(this.ctl, SPACE_WAIT, 1);
    if (this.fits(len)) { Atomics.store(this.ctl, SPACE_WAIT, 0); return true; }
    return false;
  }
}

export interface RingRecord { dev: number; port: number; flags: number }

/** Main-thread side. */
export class RingReader extends RingView {
  private head: number;
  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.ctl, HEAD);
  }

  /**
   * Hand every published record to `cb`, then call `beforeRelease`, then free the space. A payload
   * is a view into the ring: valid until beforeRelease returns, so copy what must outlive it.
   * Returns true if the writer was waiting for space (the caller tells it so).
   */
  drain(cb: (dev: number, port: number, payload: Uint8Array, flags: number) => void, beforeRelease?: () => void): boolean {
    const tail = Atomics.load(this.ctl, TAIL);
    let h = this.head;
    if (h === tail) return false;
    while (h !== tail) {
      const p = h & this.mask;
      const w = p >>> 2;
      const len = this.words[w]!;
      if (len === PAD) { h = (h + this.capacity - p) | 0; continue; }
      cb(this.words[w + 1]!, this.words[w + 2]!, this.data.subarray(p + HEADER, p + HEADER + len), this.words[w + 3]!);
      h = (h + recordBytes(len)) | 0;
    }
    beforeRelease?.();
    this.head = h;
    Atomics.store(this.ctl, HEAD, h);
    return Atomics.exchange(this.ctl, SPACE_WAIT, 0) === 1;
  }

  /**
   * Sleep until the writer publishes: returns a promise, or null if there is something to drain
   * already (drain, then call again).
   */
  waitAsync(): Promise<unknown> | null {
    const seq = Atomics.load(this.ctl, SEQ);
    Atomics.store(this.ctl, MAIN_WAITING, 1);
    if (Atomics.load(this.ctl, TAIL) !== this.head) { Atomics.store(this.ctl, MAIN_WAITING, 0); return null; }
    const r = waitAsync(this.ctl, SEQ, seq);
    if (!r.async) { Atomics.store(this.ctl, MAIN_WAITING, 0); return null; }
    return r.value.then((v) => { Atomics.store(this.ctl, MAIN_WAITING, 0); return v; });
  }

  /** Wake a pending waitAsync (shutdown). */
  interrupt(): void {
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
  }
}
