// A resumable position in a port's rotating log: (inode, byte position in that file). The
// publisher stores it with every message, so after a restart it finds the same byte again even
// if the log rotated meanwhile (rotation renames, the inode stays). Reads by descriptor, never
// blocks the writer: AppendLog/LogFileSink write, this only reads what is already on disk.
//
// Order of files: the one holding the cursor, then each newer one (logFilePaths lists oldest
// first). The writer fsyncs and closes a file before renaming it, so a rotated file's EOF is
// final. If the cursor's inode is gone (rotated past keepFiles while we were away), reading
// restarts at the oldest kept file and the gap is reported.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { loadConsole } from '../daemon/stack.js';

export interface LogPosition { ino: number; pos: number }

interface Listed { path: string; ino: number }

async function listing(path: string): Promise<Listed[]> {
  const { logFilePaths } = await loadConsole();
  for (let attempt = 0; ; attempt++) {
    const paths = await logFilePaths(path);
    const inos = await Promise.all(paths.map((p) => stat(p).then((s) => s.ino, () => -1)));
    const files = paths.map((p, i) => ({ path: p, ino: inos[i]! }));
    // A rotation renames several files; a vanished one means it ran during our stat calls.
    if (files.every((f) => f.ino >= 0) || attempt >= 10) return files.filter((f) => f.ino >= 0);
  }
}

export interface Chunk {
  /** Where the bytes start. */
  at: LogPosition;
  bytes: Buffer;
  /** Set when the cursor's file was gone and reading jumped to the oldest kept file. */
  gap: boolean;
}

/**
 * Reads a port's log history chunk by chunk. The file under the cursor stays open between reads
 * (its bytes never change, rotated or not), so a read is one pread; the directory is listed only
 * at that file's EOF, to find the file after it.
 */
export class LogReader {
  private held: { ino: number; fh: FileHandle } | null = null;

  constructor(private readonly path: string) {}

  /**
   * Reads into `into` (up to its length) at `from` (null: the very start of the history). Returns
   * null when nothing new is on disk yet. A chunk never spans two files; its bytes are a view of
   * `into`.
   */
  async read(from: LogPosition | null, into: Buffer): Promise<Chunk | null> {
    if (from && this.held?.ino === from.ino) {
      const n = await readSome(this.held.fh, from.pos, into);
      if (n > 0) return { at: from, bytes: into.subarray(0, n), gap: false };
    }
    const files = await listing(this.path);
    if (files.length === 0) return null;
    let i = from ? files.findIndex((f) => f.ino === from.ino) : 0;
    let pos = from && i >= 0 ? from.pos : 0;
    const gap = from !== null && i < 0;
    if (i < 0) i = 0;
    for (; i < files.length; i++, pos = 0) {
      const f = files[i]!;
      const held = this.held?.ino === f.ino ? this.held : null;
      const fh = held?.fh ?? await open(f.path, 'r').catch(() => null);
      if (!fh) return null; // renamed away between listing and open: next call sees the new names
      let keep = held !== null;
      try {
        if (!held && (await fh.stat()).ino !== f.ino) return null;
        const n = await readSome(fh, pos, into);
        if (n > 0) {
          if (!held) await this.hold(f.ino, fh);
          keep = true;
          return { at: { ino: f.ino, pos }, bytes: into.subarray(0, n), gap };
        }
      } finally {
        if (!keep) await fh.close();
      }
      // EOF: a newer file exists only if this one was rotated (its EOF is final); else wait.
    }
    return null;
  }

  async close(): Promise<void> {
    const h = this.held;
    this.held = null;
    await h?.fh.close();
  }

  private async hold(ino: number, fh: FileHandle): Promise<void> {
    await this.close();
    this.held = { ino, fh };
  }
}

async function readSome(fh: FileHandle, pos: number, into: Buffer): Promise<number> {
  return (await fh.read(into, 0, into.length, pos)).bytesRead;
}
