/**
 * The on-disk format of a port's log files, shared by the two writers (LogFileSink, async
 * through a queue; AppendLog, synchronous on the transmit path) so both produce the same files
 * and log-reader.ts reads either.
 *
 * - Timestamps: each line start gets `<ISO-8601 UTC> ` using the `at` of the write that
 *   delivered the line's first byte; a line split across writes gets one stamp.
 * - Size: a file never exceeds maxBytes. The cut is made after the last LF that fits when
 *   that keeps the file at least half full, otherwise exactly at maxBytes.
 * - Rotation: `path` is the live file; path → path.1 → path.2 ..., `keep` files in total,
 *   the oldest deleted. The concatenation of the files, oldest first, is the stream written.
 */
import { ConsoleError } from '../errors.js';

export const LF = 0x0a;

/** Inserts `<ISO time> ` at each line start; remembers across calls whether a line is open. */
export class LineStamper {
  private atLineStart = true;

  /** Returns a new array: chunk with a prefix at each line start (chunk is not kept). */
  stamp(chunk: Uint8Array, at: number): Uint8Array {
    if (chunk.length === 0) return new Uint8Array(0);
    const prefix = Buffer.from(`${new Date(at).toISOString()} `, 'latin1');
    let lines = this.atLineStart ? 1 : 0;
    for (let i = 0; i < chunk.length - 1; i++) if (chunk[i] === LF) lines++;
    const out = new Uint8Array(chunk.length + lines * prefix.length);
    let o = 0;
    let from = 0;
    let start = this.atLineStart;
    while (from < chunk.length) {
      if (start) {
        out.set(prefix, o);
        o += prefix.length;
      }
      const lf = chunk.indexOf(LF, from);
      const to = lf < 0 ? chunk.length : lf + 1;
      out.set(chunk.subarray(from, to), o);
      o += to - from;
      from = to;
      start = lf >= 0;
    }
    this.atLineStart = chunk[chunk.length - 1] === LF;
    return out;
  }
}

/**
 * How many bytes of `batch` go into the live file (currently fileSize bytes) before it must
 * rotate: all of it if it fits; else after the last LF that fits when that keeps the file at
 * least half full; else exactly up to maxBytes. 0 = rotate before writing anything.
 *
 * fileEndsWithLF: the live file's last byte is an LF, so the file's end is itself a line end
 * that fits. A writer whose batches are small (AppendLog: one transmit pass) passes it, else
 * a batch without an LF in the room left would split a line across files although the file
 * already ends at a line. LogFileSink cuts 256 KiB batches and leaves it false.
 */
export function cutPoint(batch: Uint8Array, fileSize: number, maxBytes: number, fileEndsWithLF = false): number {
  const room = maxBytes - fileSize;
  if (batch.length <= room) return batch.length;
  if (room <= 0) return 0;
  const lf = batch.lastIndexOf(LF, room - 1);
  if (lf >= 0 && fileSize + lf + 1 >= maxBytes / 2) return lf + 1;
  if (fileEndsWithLF && fileSize >= maxBytes / 2) return 0;
  return room;
}

export interface RotationPlan {
  /** keep === 1: the live file is deleted (no history kept). */
  unlink?: string;
  /** Renames to perform in order (oldest first, so none overwrites a file still needed). */
  renames: [from: string, to: string][];
}

/** The file operations of one rotation; a missing source (ENOENT) is skipped by the caller. */
export function rotationRenames(path: string, keep: number): RotationPlan {
  if (keep === 1) return { unlink: path, renames: [] };
  const renames: [string, string][] = [];
  for (let k = keep - 1; k >= 1; k--) renames.push([k === 1 ? path : `${path}.${k - 1}`, `${path}.${k}`]);
  return { renames };
}

/** Validates the rotation options both writers share. Throws ConsoleError('BAD_OPTION'). */
export function checkRotationOptions(maxBytes: number, keep: number): void {
  if (!(maxBytes > 0)) throw new ConsoleError('BAD_OPTION', `maxBytes must be > 0, got ${maxBytes}`);
  if (!Number.isSafeInteger(keep) || keep < 1) throw new ConsoleError('BAD_OPTION', `keep must be an integer >= 1, got ${keep}`);
}

export function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}
