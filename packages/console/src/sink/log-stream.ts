/**
 * LogStream: a port's raw log (AppendLog, timestamps off) seen as one byte stream with stable
 * offsets, so attach readers can follow it at their own pace instead of being fed from memory.
 *
 * Offsets: the stream is the concatenation of the log files, oldest first (log-format.ts); an
 * offset counts bytes since the log was first indexed, so it does not move when a rotation
 * deletes the oldest file. Each file's start offset is known by inode (a rotation renames, the
 * inode stays): a file's successor starts where it ends (the writer closes a file before renaming
 * it, so a rotated file's size is final). The inode → start table is kept in a small dotfile
 * beside the log (`.<name>.offsets`), so a restarted daemon gives the same bytes the same offsets
 * and a client can resume "from offset N" across the restart.
 *
 * `end` is advanced by the main thread as the port's bytes reach it: they are in the file
 * already (the worker logs before it publishes), so a reader never needs more than `end`.
 * The listing is refreshed when a reader reaches the end of a rotated file, and while the live
 * file is past half of maxBytes (every maxBytes/8 of output), so a rotation is seen before the
 * next one. Losing track (more than `keep` rotations between two refreshes, or the dotfile lost
 * while the history rotated) places the live file at the stream's end: offsets stay increasing,
 * but may then differ from a previous daemon's.
 *
 * Threading: main thread; reads the files with async fs calls only (threadpool), never blocks.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { stableListing, type LogFileListing } from './log-reader.js';

export interface LogSpan {
  path: string;
  ino: number;
  /** Stream offset of the file's first byte. */
  start: number;
  /** Size when listed (final for every file but the live one, the last). */
  size: number;
}

type Listed = LogFileListing;

export class LogStream {
  private _end = 0;
  private _spans: LogSpan[] = [];
  private readonly starts = new Map<number, number>();
  private refreshing: Promise<LogSpan[]> | null = null;
  private refreshAt = Infinity;
  private saving: Promise<void> = Promise.resolve();
  private savedKey = '';

  private constructor(readonly path: string, readonly maxBytes: number) {}

  /** Indexes the port's existing log files (none yet is fine: the stream starts empty). */
  static async open(path: string, maxBytes = Infinity): Promise<LogStream> {
    const s = new LogStream(path, maxBytes);
    try {
      const saved = JSON.parse(await readFile(s.anchorFile, 'utf8')) as unknown;
      if (Array.isArray(saved)) {
        for (const e of saved) {
          if (Array.isArray(e) && Number.isSafeInteger(e[0]) && Number.isSafeInteger(e[1]) && e[1] >= 0) s.starts.set(e[0] as number, e[1] as number);
        }
      }
    } catch {
      // first run, or an unreadable dotfile: the oldest file starts at 0
    }
    const spans = await s.refresh();
    await s.settled(); // the dotfile exists once open() returns (a refused port removes it)
    const last = spans[spans.length - 1];
    s._end = last ? last.start + last.size : 0;
    s.planRefresh();
    return s;
  }

  /** The dotfile with the inode → start table of the log at `path`. */
  static anchorFileOf(path: string): string {
    return join(dirname(path), `.${basename(path)}.offsets`);
  }

  get anchorFile(): string {
    return LogStream.anchorFileOf(this.path);
  }

  /** Offset just past the last byte the port handed to the main thread. */
  get end(): number {
    return this._end;
  }

  /** Offset of the oldest byte the files still hold (as of the last listing). */
  get start(): number {
    return this._spans[0]?.start ?? this._end;
  }

  /** The files as of the last listing, oldest first. */
  get spans(): readonly LogSpan[] {
    return this._spans;
  }

  /** The port wrote n more bytes (already in the log). O(1); lists the files now and then. */
  advance(n: number): void {
    this._end += n;
    if (this._end >= this.refreshAt) void this.refresh();
  }

  /** Lists the files again (one listing in flight at a time; callers share it). */
  refresh(): Promise<LogSpan[]> {
    this.refreshing ??= this.list().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** Waits for the dotfile writes started so far (tests, shutdown). */
  async settled(): Promise<void> {
    await this.refreshing?.catch(() => undefined);
    await this.saving;
  }

  private async list(): Promise<LogSpan[]> {
    const files = await stableListing(this.path);
    const spans = this.place(files);
    this._spans = spans;
    this.starts.clear();
    for (const s of spans) this.starts.set(s.ino, s.start);
    this.planRefresh();
    this.save();
    return spans;
  }

  /** Start offsets for a listing, from a file whose start is known (see the module comment). */
  private place(files: Listed[]): LogSpan[] {
    if (files.length === 0) return [];
    let k = files.findIndex((f) => this.starts.has(f.ino));
    let anchor: number;
    if (k >= 0) {
      anchor = this.starts.get(files[k]!.ino)!;
    } else if (this.starts.size === 0 && this._spans.length === 0) {
      k = 0;
      anchor = 0;
    } else {
      // Lost track: the live file ends at (or, with bytes in flight, a little past) `end`.
      k = files.length - 1;
      const known = this._spans[this._spans.length - 1];
      anchor = Math.max(known ? known.start + known.size : 0, this._end - files[k]!.size);
    }
    const out: LogSpan[] = files.map((f) => ({ ...f, start: 0 }));
    out[k]!.start = anchor;
    for (let i = k + 1; i < out.length; i++) out[i]!.start = out[i - 1]!.start + out[i - 1]!.size;
    for (let i = k - 1; i >= 0; i--) out[i]!.start = out[i + 1]!.start - out[i]!.size;
    return out;
  }

  /** Next listing: once the live file is past half of maxBytes, every maxBytes/8 of output. */
  private planRefresh(): void {
    if (!Number.isFinite(this.maxBytes)) return;
    const live = this._spans[this._spans.length - 1];
    const half = (live ? live.start : this._end) + this.maxBytes / 2;
    this.refreshAt = Math.max(half, this._end + Math.max(1, Math.floor(this.maxBytes / 8)));
  }

  /** Writes the dotfile when the set of files changed (tmp + rename; serialized; best effort). */
  private save(): void {
    const table = this._spans.map((s) => [s.ino, s.start]);
    const key = JSON.stringify(table);
    if (key === this.savedKey) return;
    this.savedKey = key;
    const tmp = `${this.anchorFile}.tmp`;
    this.saving = this.saving
      .then(() => writeFile(tmp, key, { mode: 0o640 }))
      .then(() => rename(tmp, this.anchorFile))
      .catch(() => undefined); // without it a restart only renumbers; readers are not affected
  }
}

