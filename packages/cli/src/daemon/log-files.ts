// A port's log history across rotations, read with @vtcon/console's readLogFiles (oldest file
// first, the order port logs rotate in). With `sinceMs`, keeps only lines whose ISO
// timestamp prefix (sinks.timestamps) is at or after it; unstamped lines follow their
// predecessor's fate so a multi-chunk line is not cut.
import { open, stat } from 'node:fs/promises';
import { loadConsole } from './stack.js';

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) /;

export function filterSince(text: Buffer, sinceMs: number): Buffer {
  const out: Buffer[] = [];
  let keep = false;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    end = end < 0 ? text.length : end + 1;
    const line = text.subarray(start, end);
    const m = STAMP.exec(line.subarray(0, 40).toString('latin1'));
    if (m) keep = Date.parse(m[1]!) >= sinceMs;
    if (keep) out.push(line);
    start = end;
  }
  return Buffer.concat(out);
}

/**
 * Most of a port's history one `logs` reply carries. The whole history is rotateBytes × keepFiles,
 * any size; read, joined and base64-encoded in the daemon it would block every VM's main thread
 * and grow the daemon by several times its size. Past this, `vtcon logs --all` reads the files itself.
 */
export const MAX_HISTORY_REPLY = 4 * 1024 * 1024;

/**
 * The last `maxBytes` of a port's log history and how many bytes before them were left out: the
 * files' sizes first, then positional reads of only the files that end the history, into one
 * buffer (a history of any size costs maxBytes). A rotation between the two steps shortens the
 * tail; it never makes it longer.
 */
export async function readLogTail(path: string, maxBytes: number): Promise<{ tail: Buffer; omitted: number }> {
  const { logFilePaths } = await loadConsole();
  const files: { path: string; size: number }[] = [];
  for (const p of await logFilePaths(path)) {
    try {
      files.push({ path: p, size: (await stat(p)).size });
    } catch {
      // rotated away meanwhile
    }
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  const buf = Buffer.allocUnsafe(Math.min(total, maxBytes));
  let skip = total - buf.length;
  let filled = 0;
  for (const f of files) {
    if (skip >= f.size) {
      skip -= f.size;
      continue;
    }
    filled += await readInto(f.path, skip, buf.subarray(filled, filled + f.size - skip));
    skip = 0;
  }
  return { tail: buf.subarray(0, filled), omitted: total - buf.length };
}

/** Reads `into.length` bytes of `path` from `pos` (fewer at its end); 0 if it is gone. */
async function readInto(path: string, pos: number, into: Buffer): Promise<number> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return 0;
  }
  try {
    let n = 0;
    while (n < into.length) {
      const { bytesRead } = await fh.read(into, n, into.length - n, pos + n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n;
  } finally {
    await fh.close();
  }
}

export async function readLogHistory(path: string, sinceMs?: number): Promise<Buffer> {
  const { readLogFiles } = await loadConsole();
  const parts: Uint8Array[] = [];
  for await (const chunk of readLogFiles(path)) parts.push(chunk);
  const all = Buffer.concat(parts);
  return sinceMs === undefined ? all : filterSince(all, sinceMs);
}

/** The last `n` lines of `text` (a final unterminated line counts as one). */
export function lastLinesOf(text: Buffer, n: number): Buffer {
  let i = text.length;
  for (let k = 0; k < n && i > 0; k++) i = text.lastIndexOf(0x0a, i - 2) + 1;
  return n === 0 ? Buffer.alloc(0) : text.subarray(i);
}
