/**
 * LogFileSink: an append-only log file per port with size-based rotation and optional
 * per-line timestamps, written through a bounded queue.
 *
 * Files, size cap, rotation and timestamps follow log-format.ts (shared with AppendLog, the
 * synchronous writer): `path` is the live file, rotated to path.1 .. path.(keep-1); a file
 * never exceeds maxBytes; the concatenation of the files, oldest first, is the byte stream
 * written; optional `<ISO-8601 UTC> ` line prefixes.
 *
 * Flow control (the zero-loss target): write() always accepts and copies the chunk, because
 * the port has already taken it off the transmitq. When the queue reaches highWaterMark
 * wantsMore() turns false and the port must stop popping transmit chains (the guest blocks);
 * 'drain' is emitted (and onDrain listeners run) once the queue falls to half the mark.
 * Memory is therefore bounded by highWaterMark + what the port accepts in the batch that
 * crossed it.
 *
 * Failure policy: if the disk fails (ENOSPC, EIO, ...), the sink enters the failed state,
 * emits 'failed' with ConsoleError('LOG_WRITE_FAILED'), and from then on counts and drops
 * bytes (stats.bytesDropped) and reports wantsMore() = true — a broken log must not freeze
 * the guest's console. flush()/close() then reject with that error. ('failed' rather than
 * 'error' so a missing listener cannot crash the daemon.)
 *
 * Durability: flush() resolves when every byte accepted before the call is written and
 * fdatasync'ed; close() also fsyncs and closes. Rotation fsyncs the old file and the
 * directory before opening the new file.
 *
 * Threading: single-threaded (the thread that owns the port); file I/O is async via
 * node:fs/promises so write() never waits for the disk.
 */
import { EventEmitter } from 'node:events';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PortSink } from './sink.js';
import { ConsoleError } from '../errors.js';
import { LineStamper, checkRotationOptions, cutPoint, isEnoent, rotationRenames } from './log-format.js';

export interface LogFileOptions {
  /** The live log file, e.g. /var/log/vtcon/vm1/console.log. Its directory is created. */
  path: string;
  /** Rotate when the live file would exceed this many bytes; default 16 MiB. Infinity = never. */
  maxBytes?: number;
  /** Files kept in total including the live one (>= 1); default 5. */
  keep?: number;
  /** Prefix each line with its ISO time; default false. */
  timestamps?: boolean;
  /** Queued bytes at which wantsMore() turns false; default 1 MiB. */
  highWaterMark?: number;
  /** Largest single write to the file; default 256 KiB. */
  batchBytes?: number;
  /** Mode for newly created files; default 0o640. */
  mode?: number;
}

export interface LogFileStats {
  /** Guest bytes accepted by write(). */
  bytesIn: number;
  /** Bytes written to files (includes timestamp prefixes). */
  bytesWritten: number;
  /** Bytes waiting in the queue now. */
  bytesQueued: number;
  /** Highest bytesQueued seen. */
  queuedPeak: number;
  /** Times wantsMore() turned false. */
  highWaterHits: number;
  rotations: number;
  /** Bytes dropped after the sink failed (0 while healthy: nothing is dropped by policy). */
  bytesDropped: number;
}

export class LogFileSink extends EventEmitter implements PortSink {
  readonly path: string;
  readonly maxBytes: number;
  readonly keep: number;
  readonly timestamps: boolean;
  readonly highWaterMark: number;
  private readonly batchBytes: number;
  private readonly mode: number;

  private fh: FileHandle;
  private fileSize: number;
  private queue: Uint8Array[] = [];
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private overMark = false;
  private readonly stamper = new LineStamper();
  private closed = false;
  private failure: ConsoleError | null = null;
  private readonly counters: LogFileStats = {
    bytesIn: 0, bytesWritten: 0, bytesQueued: 0, queuedPeak: 0, highWaterHits: 0, rotations: 0, bytesDropped: 0,
  };

  private constructor(options: Required<LogFileOptions>, fh: FileHandle, size: number) {
    super();
    this.path = options.path;
    this.maxBytes = options.maxBytes;
    this.keep = options.keep;
    this.timestamps = options.timestamps;
    this.highWaterMark = options.highWaterMark;
    this.batchBytes = options.batchBytes;
    this.mode = options.mode;
    this.fh = fh;
    this.fileSize = size;
  }

  /** Opens (appending to) the live file, creating its directory. */
  static async open(options: LogFileOptions): Promise<LogFileSink> {
    const o: Required<LogFileOptions> = {
      maxBytes: 16 * 1024 * 1024, keep: 5, timestamps: false, highWaterMark: 1024 * 1024,
      batchBytes: 256 * 1024, mode: 0o640, ...options,
    };
    checkRotationOptions(o.maxBytes, o.keep);
    if (!(o.highWaterMark > 0)) throw new ConsoleError('BAD_OPTION', `highWaterMark must be > 0, got ${o.highWaterMark}`);
    if (!(o.batchBytes > 0)) throw new ConsoleError('BAD_OPTION', `batchBytes must be > 0, got ${o.batchBytes}`);
    try {
      await mkdir(dirname(o.path), { recursive: true });
      const fh = await open(o.path, 'a', o.mode);
      const { size } = await fh.stat();
      return new LogFileSink(o, fh, size);
    } catch (e) {
      throw new ConsoleError('LOG_WRITE_FAILED', `cannot open ${o.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  get stats(): Readonly<LogFileStats> {
    return { ...this.counters };
  }

  /** Set once the disk failed; see the failure policy above. */
  get failed(): ConsoleError | null {
    return this.failure;
  }

  /** Same as wantsMore(), as a property for stream-like callers. */
  get writable(): boolean {
    return this.wantsMore();
  }

  write(chunk: Uint8Array, at: number): void {
    if (this.closed) throw new ConsoleError('SINK_CLOSED', `log ${this.path} is closed`);
    if (chunk.length === 0) return;
    this.counters.bytesIn += chunk.length;
    if (this.failure) {
      this.counters.bytesDropped += chunk.length;
      return;
    }
    const data = this.timestamps ? this.stamper.stamp(chunk, at) : chunk.slice();
    this.queue.push(data);
    this.counters.bytesQueued += data.length;
    if (this.counters.bytesQueued > this.counters.queuedPeak) this.counters.queuedPeak = this.counters.bytesQueued;
    if (!this.overMark && this.counters.bytesQueued >= this.highWaterMark) {
      this.overMark = true;
      this.counters.highWaterHits += 1;
    }
    if (!this.pumping) void this.pump();
  }

  wantsMore(): boolean {
    return this.failure !== null || !this.overMark;
  }

  onDrain(listener: () => void): () => void {
    this.on('drain', listener);
    return () => this.off('drain', listener);
  }

  /** Resolves when everything accepted so far is written and fdatasync'ed. */
  async flush(): Promise<void> {
    await this.idle();
    if (this.failure) throw this.failure;
    try {
      await this.fh.datasync();
    } catch (e) {
      this.fail(e, 'fdatasync');
      throw this.failure;
    }
  }

  /** Writes out the queue, fsyncs and closes. Further write() throws SINK_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle();
    try {
      if (!this.failure) await this.fh.sync();
    } catch (e) {
      this.fail(e, 'fsync');
    } finally {
      await this.fh.close().catch(() => undefined);
    }
    if (this.failure) throw this.failure;
  }

  private idle(): Promise<void> {
    if (!this.pumping && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Takes up to batchBytes from the queue head as one buffer. */
  private takeBatch(): Uint8Array {
    const parts: Uint8Array[] = [];
    let n = 0;
    while (this.queue.length > 0 && n < this.batchBytes) {
      const head = this.queue[0]!;
      const room = this.batchBytes - n;
      if (head.length <= room) {
        parts.push(head);
        n += head.length;
        this.queue.shift();
      } else {
        parts.push(head.subarray(0, room));
        this.queue[0] = head.subarray(room);
        n += room;
      }
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.failure) {
        let batch = this.takeBatch();
        while (batch.length > 0) {
          const cut = cutPoint(batch, this.fileSize, this.maxBytes);
          if (cut === 0) {
            await this.rotate();
            continue;
          }
          await this.writeAll(batch.subarray(0, cut));
          batch = batch.subarray(cut);
          if (batch.length > 0) await this.rotate();
        }
      }
    } catch (e) {
      this.fail(e, 'write');
    } finally {
      this.pumping = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async writeAll(buf: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
      this.fileSize += bytesWritten;
      this.counters.bytesWritten += bytesWritten;
      this.counters.bytesQueued -= bytesWritten;
    }
    if (this.overMark && this.counters.bytesQueued <= this.highWaterMark / 2) {
      this.overMark = false;
      this.emit('drain');
    }
  }

  private async rotate(): Promise<void> {
    await this.fh.sync();
    await this.fh.close();
    const plan = rotationRenames(this.path, this.keep);
    if (plan.unlink !== undefined) await unlink(plan.unlink).catch(ignoreEnoent);
    for (const [from, to] of plan.renames) await rename(from, to).catch(ignoreEnoent);
    this.fh = await open(this.path, 'a', this.mode);
    this.fileSize = 0;
    await syncDir(dirname(this.path));
    this.counters.rotations += 1;
    this.emit('rotate', this.counters.rotations);
  }

  private fail(e: unknown, what: string): void {
    if (this.failure) return;
    this.failure = new ConsoleError('LOG_WRITE_FAILED', `${what} ${this.path}: ${(e as Error).message}`, { cause: e });
    this.counters.bytesDropped += this.counters.bytesQueued;
    this.counters.bytesQueued = 0;
    this.queue = [];
    this.emit('failed', this.failure);
    if (this.overMark) {
      this.overMark = false;
      this.emit('drain');
    }
  }
}

function ignoreEnoent(e: unknown): void {
  if (!isEnoent(e)) throw e;
}

/** fsync the directory so the renames of a rotation survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

