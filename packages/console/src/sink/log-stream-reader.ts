/**
 * LogStreamReader: one reader's position in a LogStream (log-stream.ts) and the file it reads.
 *
 * The reader holds its current file open by descriptor, so a rotation that renames or deletes
 * that file does not cut it off: it reads the file to its (final) end, then moves to the file that
 * starts there. Bytes it cannot get any more (rotated away before it came to them) are skipped:
 * read() reports how many, and the reader continues at the oldest byte the files hold.
 *
 * Memory: none of its own; the caller passes the buffer. Threading: main thread, async fs only;
 * one read() at a time per reader.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { LF } from './log-format.js';
import type { LogSpan, LogStream } from './log-stream.js';

export interface LogRead {
  /** Bytes put at the start of the caller's buffer (0: nothing new yet). */
  n: number;
  /** Bytes rotated away before this reader got to them (it continued after them). */
  skipped: number;
}

export class LogStreamReader {
  private fh: FileHandle | null = null;
  private ino = -1;
  private fileStart = 0;
  /** The current file was seen rotated: its end is final. */
  private rotated = false;
  private closed = false;

  constructor(private readonly stream: LogStream, private pos: number) {}

  /** Stream offset of the next byte this reader returns. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes of the stream the reader has not read yet. */
  get lag(): number {
    return Math.max(0, this.stream.end - this.pos);
  }

  /** Moves to another offset (closes the file if it is outside it). */
  async seek(offset: number): Promise<void> {
    if (offset !== this.pos) await this.drop();
    this.pos = offset;
  }

  /** Reads at the reader's offset into buf. Never throws for a vanished file (it re-lists). */
  async read(buf: Uint8Array): Promise<LogRead> {
    let skipped = 0;
    for (let attempt = 0; attempt < 8 && !this.closed; attempt++) {
      if (!this.fh) {
        const found = await this.locate();
        if (found === null) return { n: 0, skipped };
        skipped += found;
        if (!this.fh) continue;
      }
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.pos - this.fileStart);
      if (bytesRead > 0) {
        this.pos += bytesRead;
        return { n: bytesRead, skipped };
      }
      if (this.rotated) {
        await this.drop(); // a rotated file read to its final end: go on with its successor
        continue;
      }
      if (this.pos >= this.stream.end) return { n: 0, skipped }; // caught up
      // Behind the stream's end but at our file's end: it was rotated (or a write is in flight).
      const spans = await this.stream.refresh();
      const me = spans.findIndex((s) => s.ino === this.ino);
      if (me === spans.length - 1) return { n: 0, skipped };
      this.rotated = true; // read once more: bytes written just before the rotation
    }
    return { n: 0, skipped };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drop();
  }

  /**
   * Opens the file holding pos. Returns the bytes skipped (pos moved up to the oldest kept byte),
   * or null when the stream holds nothing at pos yet. Leaves fh null to ask for another try.
   */
  private async locate(): Promise<number | null> {
    let spans = this.stream.spans;
    if (!covers(spans, this.pos)) spans = await this.stream.refresh();
    if (spans.length === 0) return null;
    let skipped = 0;
    if (this.pos < spans[0]!.start) {
      skipped = spans[0]!.start - this.pos;
      this.pos = spans[0]!.start;
    }
    const last = spans.length - 1;
    const i = spans.findIndex((s, k) => k === last || this.pos < s.start + s.size);
    const span = spans[i]!;
    if (this.pos > span.start + span.size && i === last && this.pos > this.stream.end) this.pos = this.stream.end;
    const fh = await open(span.path, 'r').catch(() => null);
    if (!fh) {
      await this.stream.refresh(); // renamed meanwhile
      return skipped;
    }
    if ((await fh.stat()).ino !== span.ino) {
      await fh.close();
      await this.stream.refresh();
      return skipped;
    }
    if (this.closed) {
      await fh.close(); // closed while the open was under way: the fd would wait for the GC
      return skipped;
    }
    this.fh = fh;
    this.ino = span.ino;
    this.fileStart = span.start;
    this.rotated = i !== last;
    return skipped;
  }

  private async drop(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.ino = -1;
    this.rotated = false;
    await fh?.close().catch(() => undefined);
  }
}

/** Whether the listing can place pos (inside a file, or in/after the live one). */
function covers(spans: readonly LogSpan[], pos: number): boolean {
  return spans.length > 0 && pos >= spans[0]!.start;
}

/**
 * The offset where the last n lines before the stream's end begin (the rule of
 * Scrollback.lastLines: the byte at end-1 is not counted, so a trailing LF ends the last line),
 * looking back at most maxBytes. Reads backwards in buf-sized blocks; no other memory.
 */
export async function lastLinesStart(stream: LogStream, n: number, maxBytes: number, buf: Uint8Array): Promise<number> {
  const end = stream.end;
  const floor = Math.max(stream.start, end - maxBytes);
  if (n <= 0 || end <= floor) return end;
  const r = new LogStreamReader(stream, floor);
  try {
    let seen = 0;
    let hi = end - 1;
    while (hi > floor) {
      const lo = Math.max(floor, hi - buf.length);
      await r.seek(lo);
      let filled = 0;
      while (filled < hi - lo) {
        const got = await r.read(buf.subarray(filled, hi - lo));
        if (got.skipped > 0) return stream.start; // the history rotated away under us
        if (got.n === 0) break;
        filled += got.n;
      }
      for (let i = filled - 1; i >= 0; i--) if (buf[i] === LF && ++seen === n) return lo + i + 1;
      hi = lo;
    }
    return floor;
  } finally {
    await r.close();
  }
}
