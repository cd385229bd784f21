/**
 * Scrollback: a bounded per-port ring buffer of guest output, addressed by a monotonically
 * increasing byte offset so readers (attach replay, `vtcon logs`, `logs -f` pollers) can
 * resume where they stopped.
 *
 * Policy (by design, not a loss of the port): the ring keeps the newest `capacityBytes`
 * bytes; older bytes are overwritten and counted in `bytesOverwritten`. Durable history is
 * the log file's job. A reader asking for an overwritten offset is moved forward to the
 * oldest kept byte and told how many bytes it skipped.
 *
 * Timestamps: a bounded index maps offsets to the Date.now() of the write that produced
 * them. Consecutive writes in the same millisecond share one entry. When the index is full
 * it is thinned by merging neighbouring entries pairwise: each entry keeps [firstAt,lastAt]
 * of what it covers, so since(t) stays conservative (it may return a little more than asked,
 * never less) while the index covers the whole ring at coarser resolution.
 *
 * Threading: single-threaded; call from the thread that owns the port.
 */
import { EventEmitter } from 'node:events';
import type { PortSink } from './sink.js';
import { ConsoleError } from '../errors.js';

export interface ScrollbackOptions {
  /** Ring size in bytes (> 0). */
  capacityBytes: number;
  /** Maximum timestamp index entries (>= 2); default 4096 (≈ 96 KiB). */
  indexEntries?: number;
}

export interface ScrollbackRead {
  bytes: Uint8Array;
  /** Offset of bytes[0]. */
  fromOffset: number;
  /** Offset to pass to the next read(). */
  nextOffset: number;
  /** Bytes the reader asked for that were already overwritten (0 when none). */
  skipped: number;
}

export interface ScrollbackStats {
  bytesIn: number;
  chunksIn: number;
  /** Bytes overwritten in the ring by newer output (by design; see module comment). */
  bytesOverwritten: number;
  /** Times the timestamp index was thinned (resolution halved). */
  indexThinnings: number;
}

const LF = 0x0a;

export class Scrollback extends EventEmitter implements PortSink {
  readonly capacityBytes: number;
  private readonly ring: Uint8Array;
  /** Offset one past the newest byte. Oldest kept byte is max(0, end - capacity). */
  private end = 0;
  private closed = false;

  // Timestamp index as parallel arrays, oldest first; length <= indexCap.
  private readonly indexCap: number;
  private idxOffset: number[] = [];
  private idxFirstAt: number[] = [];
  private idxLastAt: number[] = [];

  private readonly counters: ScrollbackStats = { bytesIn: 0, chunksIn: 0, bytesOverwritten: 0, indexThinnings: 0 };

  constructor(options: ScrollbackOptions) {
    super();
    const { capacityBytes, indexEntries = 4096 } = options;
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes <= 0) {
      throw new ConsoleError('BAD_OPTION', `capacityBytes must be a positive integer, got ${capacityBytes}`);
    }
    if (!Number.isSafeInteger(indexEntries) || indexEntries < 2) {
      throw new ConsoleError('BAD_OPTION', `indexEntries must be an integer >= 2, got ${indexEntries}`);
    }
    this.capacityBytes = capacityBytes;
    this.ring = new Uint8Array(capacityBytes);
    this.indexCap = indexEntries;
  }

  /** Offset of the oldest byte still held. */
  get startOffset(): number {
    return Math.max(0, this.end - this.capacityBytes);
  }

  /** Offset one past the newest byte (= total bytes ever written). */
  get endOffset(): number {
    return this.end;
  }

  get stats(): Readonly<ScrollbackStats> {
    return { ...this.counters };
  }

  /** Copies `chunk` into the ring. Emits 'data' (endOffset) for live followers. */
  write(chunk: Uint8Array, at: number): void {
    if (this.closed) throw new ConsoleError('SINK_CLOSED', 'scrollback is closed');
    const n = chunk.length;
    if (n === 0) return;
    const before = this.startOffset;
    this.counters.bytesIn += n;
    this.counters.chunksIn += 1;
    this.recordTime(this.end, at);
    // Only the last `capacity` bytes of an oversized chunk can survive; skip the rest.
    const src = n > this.capacityBytes ? chunk.subarray(n - this.capacityBytes) : chunk;
    const pos = (this.end + (n - src.length)) % this.capacityBytes;
    const firstPart = Math.min(src.length, this.capacityBytes - pos);
    this.ring.set(src.subarray(0, firstPart), pos);
    if (firstPart < src.length) this.ring.set(src.subarray(firstPart), 0);
    this.end += n;
    this.counters.bytesOverwritten += this.startOffset - before;
    this.pruneIndex();
    this.emit('data', this.end);
  }

  /**
   * Bytes from `fromOffset` (clamped forward to startOffset) up to `maxBytes` (default: all).
   * Throws ConsoleError('OFFSET_IN_FUTURE') if fromOffset > endOffset.
   */
  read(fromOffset: number, maxBytes = Number.POSITIVE_INFINITY): ScrollbackRead {
    if (fromOffset > this.end) {
      throw new ConsoleError('OFFSET_IN_FUTURE', `offset ${fromOffset} > end ${this.end}`);
    }
    const start = Math.max(fromOffset, this.startOffset);
    const skipped = start - fromOffset;
    const len = Math.min(this.end - start, maxBytes);
    return { bytes: this.copyOut(start, len), fromOffset: start, nextOffset: start + len, skipped: Math.max(0, skipped) };
  }

  /**
   * The last `n` lines (for attach replay). A final line without LF counts as a line; an LF
   * as the very last byte ends the last line rather than starting an empty one. When fewer
   * than n lines are held, everything held is returned (the first line may be partial).
   */
  lastLines(n: number): ScrollbackRead {
    const start = this.startOffset;
    if (n <= 0 || this.end === start) return { bytes: new Uint8Array(0), fromOffset: this.end, nextOffset: this.end, skipped: 0 };
    let seen = 0;
    let from = start;
    // Scan backwards; the byte at end-1 is excluded so a trailing LF terminates the last line.
    for (let off = this.end - 2; off >= start; off--) {
      if (this.ring[off % this.capacityBytes] === LF) {
        seen += 1;
        if (seen === n) {
          from = off + 1;
          break;
        }
      }
    }
    return { bytes: this.copyOut(from, this.end - from), fromOffset: from, nextOffset: this.end, skipped: 0 };
  }

  /**
   * Offset of the first held byte written at or after `t` (ms since epoch), conservative:
   * an index entry whose time range reaches t is included whole. Returns endOffset if
   * nothing held is that new.
   */
  offsetAt(t: number): number {
    for (let i = 0; i < this.idxOffset.length; i++) {
      if (this.idxLastAt[i]! >= t) return Math.max(this.idxOffset[i]!, this.startOffset);
    }
    return this.end;
  }

  /** Bytes written at or after `t` that are still held (for `vtcon logs --since`). */
  since(t: number): ScrollbackRead {
    return this.read(this.offsetAt(t));
  }

  /** Oldest write time still indexed, or undefined when empty. */
  get oldestAt(): number | undefined {
    return this.idxFirstAt[0];
  }

  async flush(): Promise<void> {
    // Nothing to do: the ring is in memory and up to date when write() returns.
  }

  async close(): Promise<void> {
    this.closed = true;
    this.removeAllListeners('data');
  }

  private copyOut(from: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    if (len === 0) return out;
    const pos = from % this.capacityBytes;
    const firstPart = Math.min(len, this.capacityBytes - pos);
    out.set(this.ring.subarray(pos, pos + firstPart), 0);
    if (firstPart < len) out.set(this.ring.subarray(0, len - firstPart), firstPart);
    return out;
  }

  private recordTime(offset: number, at: number): void {
    const last = this.idxOffset.length - 1;
    // Same millisecond (or a clock that stepped back) as the newest entry: extend it.
    if (last >= 0 && at <= this.idxLastAt[last]!) return;
    if (this.idxOffset.length >= this.indexCap) this.thinIndex();
    this.idxOffset.push(offset);
    this.idxFirstAt.push(at);
    this.idxLastAt.push(at);
  }

  /** Merge neighbours pairwise: halves the entries, keeps every byte covered. */
  private thinIndex(): void {
    const o: number[] = [], f: number[] = [], l: number[] = [];
    for (let i = 0; i < this.idxOffset.length; i += 2) {
      const j = Math.min(i + 1, this.idxOffset.length - 1);
      o.push(this.idxOffset[i]!);
      f.push(this.idxFirstAt[i]!);
      l.push(Math.max(this.idxLastAt[i]!, this.idxLastAt[j]!));
    }
    this.idxOffset = o;
    this.idxFirstAt = f;
    this.idxLastAt = l;
    this.counters.indexThinnings += 1;
  }

  /** Drop entries that cover only overwritten bytes (entry i ends where i+1 starts). */
  private pruneIndex(): void {
    const start = this.startOffset;
    let drop = 0;
    while (drop + 1 < this.idxOffset.length && this.idxOffset[drop + 1]! <= start) drop++;
    if (drop > 0) {
      this.idxOffset.splice(0, drop);
      this.idxFirstAt.splice(0, drop);
      this.idxLastAt.splice(0, drop);
    }
  }
}
