// The daemon's own log file (daemon.logFile): the destination pino writes to. Written with plain
// synchronous appends, never an unbounded buffer, never a retry loop:
// - a write that fails (ENOSPC on a full disk, EIO) drops that line and counts it; the first
//   failure is said once on stderr, and the first line that gets through again is preceded by
//   one line saying how many were dropped. The daemon never hangs or throws on its log, and
//   SIGTERM still drains and exits.
// - the file is capped: past maxBytes it is renamed to <file>.1 (…<file>.<keep>, the oldest
//   removed) and a new one is started, so no peer can grow it without bound.
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { makePrivateDir } from '../config/paths.js';

export interface DaemonLogOptions {
  path: string;
  /** Rotate once the file would exceed this many bytes. */
  maxBytes: number;
  /** Rotated files kept next to the live one. */
  keep: number;
  /** Where a failing log says so (once per failure streak); default stderr. */
  onFailure?: (message: string) => void;
}

export class DaemonLogFile {
  private fd = -1;
  private size = 0;
  /** Lines dropped since the last successful write. */
  private droppedNow = 0;
  /** Lines dropped since the file was opened. */
  dropped = 0;
  /** Why the last write failed (errno code), or null while writes succeed. */
  failing: string | null = null;
  private torn = false;
  private rotates = true;

  constructor(private readonly opts: DaemonLogOptions) {
    makePrivateDir(dirname(opts.path));
    this.open();
  }

  /** pino's destination entry point: one serialized line, LF included. */
  write(line: string): void {
    const buf = Buffer.from(line, 'utf8');
    try {
      if (this.fd < 0) this.open();
      if (this.rotates && this.size > 0 && this.size + buf.length > this.opts.maxBytes) this.rotate();
      if (this.droppedNow > 0) {
        const note = `${this.torn ? '\n' : ''}${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, dropped: this.droppedNow, msg: `daemon log: ${this.droppedNow} line(s) dropped (${this.failing})` })}\n`;
        this.writeAll(Buffer.from(note, 'utf8'));
        this.droppedNow = 0;
        this.torn = false;
      }
      this.writeAll(buf);
      this.failing = null;
    } catch (err) {
      this.dropped++;
      this.droppedNow++;
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (this.failing === null) (this.opts.onFailure ?? stderrNote)(`vtcon: daemon log ${this.opts.path}: ${code}; dropping log lines until it can be written again`);
      this.failing = code;
    }
  }

  /** pino calls this from logger.flush(): writes are synchronous, nothing is pending. */
  flush(cb?: (err?: Error) => void): void {
    cb?.();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private open(): void {
    this.fd = openSync(this.opts.path, 'a', 0o600);
    const st = fstatSync(this.fd);
    this.size = st.size;
    // Only a regular file is rotated: logFile may be /dev/null or a FIFO, never to be renamed.
    this.rotates = st.isFile();
  }

  private writeAll(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) {
      const n = writeSync(this.fd, buf, off, buf.length - off);
      off += n;
      this.size += n;
      if (off < buf.length) this.torn = true;
    }
    this.torn = false;
  }

  private rotate(): void {
    const { path, keep } = this.opts;
    this.close();
    if (keep <= 0) rmSync(path, { force: true });
    for (let i = keep; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      try {
        renameSync(from, `${path}.${i}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.open();
  }
}

function stderrNote(message: string): void {
  try {
    writeSync(2, message + '\n');
  } catch {
    // stderr is gone too: nothing left to tell
  }
}
