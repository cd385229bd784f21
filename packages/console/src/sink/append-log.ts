/**
 * AppendLog: a port's log file written synchronously, on the thread that services the
 * transmitq, before the chains are published used.
 *
 * Why synchronous: the device acknowledges guest bytes by marking their chains used. If the
 * bytes were still in a queue in daemon memory (LogFileSink) a SIGKILL would lose bytes the
 * guest was told are delivered. A write(2) that has returned puts them in the kernel's page
 * cache, which survives the death of the process (not a power loss: sync() / close() fsync
 * for that). The cost is that the transmit pass waits for write(2), which for a regular file
 * is a memory copy.
 *
 * Format: identical to LogFileSink (log-format.ts): same line stamps, size cap, cut rule and
 * rotation names, so log-reader.ts and tools read either.
 *
 * Hot path: with timestamps off and the bytes fitting in the live file, append() hands the
 * caller's views straight to writev(2) (write(2) for one part): no copy, no allocation. The
 * views may be over a SharedArrayBuffer (the guest's memory or a worker ring); they are not
 * kept after the call. Crossing maxBytes takes the slow path (one concatenated copy, cut,
 * rotate), which happens once per maxBytes of output.
 *
 * Failure policy (same as LogFileSink): the first I/O error puts the log in the failed
 * state and calls onFailed once with ConsoleError('LOG_WRITE_FAILED'); from then on append()
 * counts bytes in stats.bytesDropped and drops them. It never throws for I/O errors — a
 * broken log must not stop the guest's console. onFailed must not throw.
 *
 * Threading: one owner thread; every call blocks that thread for its syscalls.
 */
import {
  close, closeSync, fdatasyncSync, fstatSync, ftruncateSync, fsync, fsyncSync, mkdirSync, open, openSync, readSync, renameSync, unlinkSync, writeSync,
  writevSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { ResumeRecord, resumeRecordPath } from './resume-record.js';
import { LF, LineStamper, checkRotationOptions, cutPoint, isEnoent, rotationRenames } from './log-format.js';
import { ConsoleError } from '../errors.js';

export interface PortLogOptions {
  /** The live log file; its directory is created. */
  path: string;
  /** Rotate when the live file would exceed this; default 16 MiB; Infinity = never. */
  maxBytes?: number;
  /** Files kept in total including the live one (>= 1); default 5. */
  keep?: number;
  /** Prefix each line with its ISO time; default false. */
  timestamps?: boolean;
  /** Mode for new files; default 0o640. */
  mode?: number;
  /** Keep a resume record (resume-record.ts) for taking over running rings; default false. */
  resumeRecord?: boolean;
}

export interface AppendLogStats {
  /** Guest bytes given to append(). */
  bytesIn: number;
  /** Bytes written to files (includes timestamp prefixes). */
  bytesWritten: number;
  rotations: number;
  /**
   * Guest bytes not written because the log failed. For the append that hit the error this
   * is its unwritten remainder (with timestamps on: unwritten stamped bytes, at most the
   * append's guest bytes).
   */
  bytesDropped: number;
}

/** Linux/macOS IOV_MAX: the most iovecs one writev(2) takes. */
const IOV_MAX = 1024;

export class AppendLog {
  readonly path: string;
  readonly maxBytes: number;
  readonly keep: number;
  readonly timestamps: boolean;
  private readonly mode: number;
  private readonly stamper: LineStamper | null;
  private readonly onFailed: ((err: ConsoleError) => void) | undefined;

  /** -1 once closed (or lost mid-rotation). */
  private fd: number;
  private fileSize: number;
  /** The live file's last byte is an LF (a line end the cut rule may use). */
  private endsWithLF: boolean;
  private closed = false;
  private failure: ConsoleError | null = null;
  /** Bytes of the current append still to be written (for bytesDropped on failure). */
  private pending = 0;
  /** The syscall in progress, for the failure message. */
  private op = 'write';
  private readonly counters: AppendLogStats = { bytesIn: 0, bytesWritten: 0, rotations: 0, bytesDropped: 0 };
  /** The live file's inode (a resume record names the file it measured). */
  private ino = 0;
  private readonly resume: ResumeRecord | null;
  /**
   * Test hook (VTCON_TEST_LOG_STALL_MS): block this long after each write, i.e. between "logged"
   * and "used", so that a test's kills land where a take-over must cut the log back.
   */
  private readonly stallAfterWrite = Number(process.env.VTCON_TEST_LOG_STALL_MS ?? 0) || 0;

  private constructor(
    o: Required<PortLogOptions>, fd: number, size: number, endsWithLF: boolean, onFailed: ((err: ConsoleError) => void) | undefined,
  ) {
    this.path = o.path;
    this.maxBytes = o.maxBytes;
    this.keep = o.keep;
    this.timestamps = o.timestamps;
    this.mode = o.mode;
    this.stamper = o.timestamps ? new LineStamper() : null;
    this.onFailed = onFailed;
    this.fd = fd;
    this.fileSize = size;
    this.endsWithLF = endsWithLF;
    this.ino = fstatSync(fd).ino;
    this.resume = o.resumeRecord ? new ResumeRecord(resumeRecordPath(o.path), o.mode) : null;
  }

  /** Synchronous: mkdir -p the directory, open append, fstat size. Throws ConsoleError('BAD_OPTION' | 'LOG_WRITE_FAILED'). */
  static open(options: PortLogOptions, onFailed?: (err: ConsoleError) => void): AppendLog {
    const o: Required<PortLogOptions> = { maxBytes: 16 * 1024 * 1024, keep: 5, timestamps: false, mode: 0o640, resumeRecord: false, ...options };
    checkRotationOptions(o.maxBytes, o.keep);
    if (typeof o.path !== 'string' || o.path === '') throw new ConsoleError('BAD_OPTION', 'path must be a non-empty string');
    let fd = -1;
    try {
      mkdirSync(dirname(o.path), { recursive: true });
      fd = openSync(o.path, 'a', o.mode);
      const { size } = fstatSync(fd);
      return new AppendLog(o, fd, size, size > 0 && lastByteIsLF(o.path, size), onFailed);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw new ConsoleError('LOG_WRITE_FAILED', `cannot open ${o.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Set once the disk failed; see the failure policy above. */
  get failed(): ConsoleError | null {
    return this.failure;
  }

  get stats(): AppendLogStats {
    return { ...this.counters };
  }

  /**
   * Appends the concatenation of parts (stamped with `at`, ms since the epoch, when
   * timestamps are on). Returns once write(2) has taken every byte. Never throws for I/O
   * errors (see the failure policy); throws ConsoleError('SINK_CLOSED') after close().
   */
  append(parts: readonly Uint8Array[], at: number): void {
    if (this.closed) throw new ConsoleError('SINK_CLOSED', `log ${this.path} is closed`);
    let n = 0;
    for (let i = 0; i < parts.length; i++) n += parts[i]!.length;
    if (n === 0) return;
    this.counters.bytesIn += n;
    if (this.failure) {
      this.counters.bytesDropped += n;
      return;
    }
    let out = parts;
    let total = n;
    if (this.stamper) {
      const stamped: Uint8Array[] = [];
      total = 0;
      for (const p of parts) {
        if (p.length === 0) continue;
        const s = this.stamper.stamp(p, at);
        stamped.push(s);
        total += s.length;
      }
      out = stamped;
    }
    this.pending = total;
    try {
      if (total <= this.maxBytes - this.fileSize) {
        this.writeParts(out, total);
        this.endsWithLF = lastByte(out) === LF;
      } else {
        this.writeCutting(out, total);
      }
    } catch (e) {
      this.fail(e);
      this.counters.bytesDropped += Math.min(this.pending, n);
    }
    this.pending = 0;
    if (this.stallAfterWrite > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.stallAfterWrite);
  }

  /** The transmitq published used entries up to usedIdx: record where the live file ends now. */
  committed(usedIdx: number): void {
    if (this.resume && this.fd >= 0 && !this.failure) this.resume.write({ usedIdx: usedIdx & 0xffff, ino: this.ino, size: this.fileSize });
  }

  /**
   * Before a ring is taken over at `usedIdx`: if the record says the log ended at `size` when
   * used.idx was this, whatever follows was logged for chains never used (they come again): cut
   * it. Returns the bytes cut (0: nothing to do, or the file rotated since the record).
   */
  reconcile(usedIdx: number): number {
    const r = this.resume?.read();
    if (!r || this.fd < 0 || this.failure || r.usedIdx !== (usedIdx & 0xffff) || r.ino !== this.ino || r.size >= this.fileSize) return 0;
    const cut = this.fileSize - r.size;
    try {
      this.op = 'ftruncate';
      ftruncateSync(this.fd, r.size);
    } catch (e) {
      this.fail(e);
      return 0;
    }
    this.fileSize = r.size;
    this.counters.bytesWritten -= cut;
    this.endsWithLF = r.size > 0 && lastByteIsLF(this.path, r.size);
    return cut;
  }

  /** fdatasync the live file; no-op when failed or closed. An error puts the log in the failed state. */
  sync(): void {
    if (this.failure || this.fd < 0) return;
    try {
      this.op = 'fdatasync';
      fdatasyncSync(this.fd);
    } catch (e) {
      this.fail(e);
    }
  }

  /** fsync + close; idempotent; never throws (a failure to sync goes to onFailed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const fd = this.fd;
    this.fd = -1;
    this.resume?.close();
    if (fd < 0) return;
    if (!this.failure) {
      try {
        this.op = 'fsync';
        fsyncSync(fd);
      } catch (e) {
        this.fail(e);
      }
    }
    try {
      closeSync(fd);
    } catch {
      // The fd is released whatever close(2) returns; a write error it reports was already seen by fsync.
    }
  }

  /** Writes every byte of parts (total bytes) to the live file; throws on an I/O error. */
  private writeParts(parts: readonly Uint8Array[], total: number): void {
    if (parts.length === 1) {
      this.writeAll(parts[0]!);
      return;
    }
    for (let i = 0; i < parts.length; i += IOV_MAX) {
      const window = parts.length <= IOV_MAX ? parts : parts.slice(i, i + IOV_MAX);
      let windowTotal = total;
      if (window !== parts) {
        windowTotal = 0;
        for (const p of window) windowTotal += p.length;
      }
      this.op = 'write';
      const written = writevSync(this.fd, window);
      this.advance(written);
      if (written < windowTotal) this.finishShortWrite(window, written);
    }
  }

  /** After writev(2) took only `done` bytes of window: write the rest part by part. */
  private finishShortWrite(window: readonly Uint8Array[], done: number): void {
    for (const p of window) {
      if (done >= p.length) {
        done -= p.length;
        continue;
      }
      this.writeAll(done === 0 ? p : p.subarray(done));
      done = 0;
    }
  }

  private writeAll(buf: Uint8Array): void {
    this.op = 'write';
    let off = 0;
    while (off < buf.length) {
      const written = writeSync(this.fd, buf, off, buf.length - off);
      // A regular file never takes 0 of a non-empty write; don't spin if something else does.
      if (written <= 0) throw new Error(`write(2) returned ${written}`);
      off += written;
      this.advance(written);
    }
  }

  private advance(written: number): void {
    this.fileSize += written;
    this.counters.bytesWritten += written;
    this.pending -= written;
  }

  /** The slow path: the append crosses maxBytes, so cut it by the shared rule and rotate. */
  private writeCutting(parts: readonly Uint8Array[], total: number): void {
    let batch: Uint8Array = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    while (batch.length > 0) {
      const cut = cutPoint(batch, this.fileSize, this.maxBytes, this.endsWithLF);
      if (cut === 0) {
        this.rotate();
        continue;
      }
      this.writeAll(batch.subarray(0, cut));
      this.endsWithLF = batch[cut - 1] === LF;
      batch = batch.subarray(cut);
      if (batch.length > 0) this.rotate();
    }
  }

  /**
   * Shift the names, open a new live file; the old file's fsync + close and the directory's fsync
   * go to libuv's threadpool. Waiting for them here stalled every port this thread services for
   * the length of an fsync of maxBytes (about 16 ms for 16 MiB here). Durability across a kill
   * does not need them; a power loss can lose what the page cache held, as for the live file.
   */
  private rotate(): void {
    const old = this.fd;
    this.fd = -1;
    fsync(old, (err) => {
      close(old, () => undefined);
      if (err) { this.op = 'fsync (rotated)'; this.fail(err); }
    });
    const plan = rotationRenames(this.path, this.keep);
    if (plan.unlink !== undefined) {
      this.op = 'unlink';
      try {
        unlinkSync(plan.unlink);
      } catch (e) {
        if (!isEnoent(e)) throw e;
      }
    }
    this.op = 'rename';
    for (const [from, to] of plan.renames) {
      try {
        renameSync(from, to);
      } catch (e) {
        if (!isEnoent(e)) throw e;
      }
    }
    this.op = 'open';
    this.fd = openSync(this.path, 'a', this.mode);
    this.ino = fstatSync(this.fd).ino;
    this.fileSize = 0;
    this.endsWithLF = false;
    this.counters.rotations += 1;
    syncDirLater(dirname(this.path), (err) => { this.op = 'fsync directory of'; this.fail(err); });
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = new ConsoleError('LOG_WRITE_FAILED', `${this.op} ${this.path}: ${(e as Error).message}`, { cause: e });
    this.onFailed?.(this.failure);
  }
}

/** fsync the directory (threadpool) so a rotation's renames survive a power loss. */
function syncDirLater(dir: string, onError: (err: Error) => void): void {
  open(dir, 'r', (err, d) => {
    if (err) { onError(err); return; }
    fsync(d, (e) => {
      close(d, () => undefined);
      if (e) onError(e);
    });
  });
}

/** The last byte of the concatenation of parts (undefined if all are empty). */
function lastByte(parts: readonly Uint8Array[]): number | undefined {
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    if (p.length > 0) return p[p.length - 1];
  }
  return undefined;
}

/** Whether an existing log ends at a line end; false when it cannot be read (only the cut placement depends on it). */
function lastByteIsLF(path: string, size: number): boolean {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, size - 1) === 1 && b[0] === LF;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
