/**
 * Readers for LogFileSink's files, for `vtcon logs` and `vtcon logs -f`.
 *
 * Order: path.(N-1), ..., path.1, path — oldest first, as rotation renames upward.
 * Following survives rotation: the reader holds the live file open by descriptor; when the
 * path names a different inode it finishes its descriptor (the writer fsyncs and closes a
 * file before renaming it, so EOF there is final), then reads any files rotated in between
 * (found by inode among path.1..), then opens the new live file. Bytes are lost to a
 * follower only if it falls behind by more than `keep` whole files.
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
  let cur = await openWhenPresent(path, signal, pollMs);
  if (!cur) return;
  try {
    const cursor = { pos: from === 'end' ? (await cur.fh.stat()).size : 0 };
    if (from === 'all') {
      // Rotated files first; the live one is read from the descriptor below.
      for (const p of (await logFilePaths(path)).filter((p) => p !== path)) yield* readWhole(p);
    }
    while (!signal.aborted) {
      yield* readToEof(cur.fh, cursor);
      const st = await stat(path).catch(() => null);
      if (st && st.ino !== cur.ino) {
        // Rotated: finish our file, then the ones rotated after it, then the new live file.
        yield* readToEof(cur.fh, cursor);
        const older = await rotatedAfter(path, cur.ino);
        await cur.fh.close();
        for (const p of older) yield* readWhole(p);
        const next = await openWhenPresent(path, signal, pollMs);
        if (!next) return;
        cur = next;
        cursor.pos = 0;
        continue;
      }
      if (st && st.size < cursor.pos) cursor.pos = 0; // truncated in place (not by LogFileSink)
      if (st && st.size > cursor.pos) continue;
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await cur.fh.close().catch(() => undefined);
  }
}

/** Rotated files newer than the one with inode `ino`, oldest first. */
async function rotatedAfter(path: string, ino: number): Promise<string[]> {
  const rotated = (await logFilePaths(path)).filter((p) => p !== path);
  const inos = await Promise.all(rotated.map((p) => stat(p).then((s) => s.ino, () => -1)));
  const i = inos.indexOf(ino);
  // Not found: our file was already deleted (we fell more than `keep` files behind); the
  // best we can do is continue with every file still kept.
  return i < 0 ? rotated : rotated.slice(i + 1);
}

async function openWhenPresent(path: string, signal: AbortSignal, pollMs: number): Promise<{ fh: FileHandle; ino: number } | null> {
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

async function* readWhole(p: string): AsyncGenerator<Uint8Array> {
  const fh = await open(p, 'r').catch(() => null);
  if (!fh) return;
  try {
    yield* readToEof(fh, { pos: 0 });
  } finally {
    await fh.close();
  }
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
