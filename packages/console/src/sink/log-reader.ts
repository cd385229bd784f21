/**
 * Readers for the log files AppendLog and LogFileSink write (one format: log-format.ts), for
 * `vtcon logs` and `vtcon logs -f`.
 *
 * Order: path.(N-1), ..., path.1, path — oldest first, as rotation renames upward.
 * Following survives rotation: the reader holds its file open by descriptor; when `path`
 * names a different inode it finishes its descriptor (the writer fsyncs and closes a file
 * before renaming it, so EOF there is final), then opens the oldest kept file whose inode it has
 * not read yet (path.(N-1)..path.1, path), checking the inode again after open because
 * renames may be under way. Bytes are lost to a follower only if it falls behind by more
 * than `keep` whole files.
 *
 * Following polls (default every 100 ms) rather than using fs.watch: bounded, portable,
 * and a tail does not need lower latency than that. Stop it with an AbortSignal.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const READ_CHUNK = 64 * 1024;

/** Existing log files of `path`, oldest first (rotated ones by descending suffix, then path). */
export async function logFilePaths(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const rotated = names
    .map((n) => (n.startsWith(`${base}.`) ? /^\d+$/.exec(n.slice(base.length + 1)) : null))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[0]))
    .filter((k) => k >= 1)
    .sort((a, b) => b - a)
    .map((k) => join(dir, `${base}.${k}`));
  return names.includes(base) ? [...rotated, path] : rotated;
}

/** Yields the whole content of all log files of `path`, oldest first. */
export async function* readLogFiles(path: string): AsyncGenerator<Uint8Array> {
  for (const p of await logFilePaths(path)) {
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // rotated away meanwhile
      throw e;
    }
    try {
      yield* readToEof(fh, { pos: 0 });
    } finally {
      await fh.close();
    }
  }
}

export interface FollowOptions {
  /** Stops the follower (the generator returns). */
  signal: AbortSignal;
  /** 'all': every kept file then follow; 'live': the live file from its start; 'end': only new bytes. Default 'end'. */
  from?: 'all' | 'live' | 'end';
  /** Poll interval in ms; default 100. */
  pollMs?: number;
}

/** `tail -F` for a rotating log: yields bytes as they are written until signal aborts. */
export async function* followLogFile(path: string, options: FollowOptions): AsyncGenerator<Uint8Array> {
  const { signal, from = 'end', pollMs = 100 } = options;
  const done = new DoneSet();
  let cur: OpenFile | null = null;
  try {
    if (from === 'all') {
      const files = await stableListing(path);
      cur = files.length > 0 ? await openExpected(files[0]!) : null;
    } else {
      // Files already rotated away count as read: 'live' and 'end' start at the live file.
      for (const f of await stableListing(path)) if (f.path !== path) done.add(f.ino);
    }
    cur ??= await openWhenPresent(path, signal, pollMs);
    if (!cur) return;
    const cursor = { pos: from === 'end' ? (await cur.fh.stat()).size : 0 };
    while (!signal.aborted) {
      yield* readToEof(cur.fh, cursor);
      const st = await stat(path).catch(() => null);
      if (st && st.ino === cur.ino) {
        if (st.size < cursor.pos) cursor.pos = 0; // truncated in place (neither log writer does that)
        if (st.size > cursor.pos) continue;
        await sleep(pollMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      // Our file is no longer the live one: it was rotated, and the writer closed it before
      // renaming it, so the EOF just read is final. Continue with the oldest unread file.
      done.add(cur.ino);
      const next = await oldestUnread(path, done);
      if (!next) {
        await sleep(pollMs, undefined, { signal }).catch(() => undefined); // mid-rotation
        continue;
      }
      await cur.fh.close();
      cur = next;
      cursor.pos = 0;
    }
  } finally {
    await cur?.fh.close().catch(() => undefined);
  }
}

interface OpenFile { fh: FileHandle; ino: number }

/** One log file of a listing: its path now, its inode, its size when listed. */
export interface LogFileListing { path: string; ino: number; size: number }

/** Inodes a follower has finished, bounded (only recent ones can still be listed). */
class DoneSet {
  private readonly order: number[] = [];
  private readonly set = new Set<number>();
  add(ino: number): void {
    if (this.set.has(ino)) return;
    this.set.add(ino);
    this.order.push(ino);
    if (this.order.length > 4096) this.set.delete(this.order.shift()!);
  }
  has(ino: number): boolean {
    return this.set.has(ino);
  }
}

/** All log files of `path` with their inodes and sizes, oldest first (files that vanish are left out). */
async function listWithInodes(path: string): Promise<LogFileListing[]> {
  const paths = await logFilePaths(path);
  const st = await Promise.all(paths.map((p) => stat(p).then((x) => ({ ino: x.ino, size: x.size }), () => null)));
  const out: LogFileListing[] = [];
  st.forEach((x, i) => { if (x) out.push({ path: paths[i]!, ino: x.ino, size: x.size }); });
  return out;
}

/**
 * A listing taken twice in a row with the same result: readdir + stat is not atomic, and a
 * rotation renames several files; two equal listings mean no rename ran in between
 * (practically: a rotation's renames take microseconds). Bounded attempts.
 */
export async function stableListing(path: string): Promise<LogFileListing[]> {
  let prev = await listWithInodes(path);
  for (let attempt = 0; attempt < 10; attempt++) {
    const next = await listWithInodes(path);
    if (next.length === prev.length && next.every((f, i) => f.path === prev[i]!.path && f.ino === prev[i]!.ino)) return next;
    prev = next;
  }
  return prev;
}

/** Opens `f` and checks it is still the same inode (a rotation may have renamed it). */
async function openExpected(f: LogFileListing): Promise<OpenFile | null> {
  const fh = await open(f.path, 'r').catch(() => null);
  if (!fh) return null;
  const { ino } = await fh.stat();
  if (ino === f.ino) return { fh, ino };
  await fh.close();
  return null;
}

/** The oldest kept file not read yet, opened; null while a rotation is under way (retry). */
async function oldestUnread(path: string, done: DoneSet): Promise<OpenFile | null> {
  const next = (await stableListing(path)).find((f) => !done.has(f.ino));
  return next ? openExpected(next) : null;
}

async function openWhenPresent(path: string, signal: AbortSignal, pollMs: number): Promise<OpenFile | null> {
  while (!signal.aborted) {
    try {
      const fh = await open(path, 'r');
      return { fh, ino: (await fh.stat()).ino };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await sleep(pollMs, undefined, { signal }).catch(() => undefined);
  }
  return null;
}

async function* readToEof(fh: FileHandle, cursor: { pos: number }): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, cursor.pos);
    if (bytesRead === 0) return;
    cursor.pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}
