/**
 * A port log's resume record: where the live log file ended when the transmitq's used index was
 * last published. It lets an engine that takes over a running ring (a held connection, or a
 * restarted worker) tell chains that were logged but never used — they are popped again — from
 * chains that were used: the log is cut back to the recorded end when the ring's used index is
 * still the recorded one, so those chains are logged once. (Used then record: a crash between
 * the two leaves the used index ahead of the record, and then nothing was logged after it.)
 *
 * The record is 24 bytes at offset 0 of a hidden file beside the log (`.<name>.resume`), written
 * with one pwrite(2) after each published batch: a kill cannot leave half of it, and it lives in
 * the page cache like the log itself.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface ResumePoint { usedIdx: number; ino: number; size: number }

export function resumeRecordPath(logPath: string): string {
  return join(dirname(logPath), `.${basename(logPath)}.resume`);
}

export class ResumeRecord {
  private fd = -1;
  private readonly buf = new Float64Array(3);
  private readonly bytes = new Uint8Array(this.buf.buffer);

  constructor(readonly path: string, private readonly mode: number) {}

  /** Never throws: a record that cannot be written only costs the exactness of the next take-over. */
  write(p: ResumePoint): void {
    try {
      if (this.fd < 0) this.fd = openSync(this.path, 'w', this.mode);
      this.buf[0] = p.usedIdx; this.buf[1] = p.ino; this.buf[2] = p.size;
      writeSync(this.fd, this.bytes, 0, 24, 0);
    } catch {
      this.close();
    }
  }

  /** The last record, or null (none written, unreadable). */
  read(): ResumePoint | null {
    let fd = -1;
    try {
      fd = openSync(this.path, 'r');
      const b = new Float64Array(3);
      if (readSync(fd, new Uint8Array(b.buffer), 0, 24, 0) !== 24) return null;
      return { usedIdx: b[0]!, ino: b[1]!, size: b[2]! };
    } catch {
      return null;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  close(): void {
    if (this.fd >= 0) { try { closeSync(this.fd); } catch { /* released anyway */ } }
    this.fd = -1;
  }
}
