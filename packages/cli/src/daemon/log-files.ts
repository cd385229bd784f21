// Reads a port's log history across rotations: <path>.N (oldest) ... <path>.1, then <path>, the
// naming @vtcon/console's LogFileSink rotates with. With `sinceMs`, keeps only lines whose ISO
// timestamp prefix (sinks.timestamps) is at or after it; unstamped lines follow their
// predecessor's fate so a multi-chunk line is not cut.
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function rotatedLogFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const rotated = names
    .map((n) => ({ n, m: n.startsWith(base + '.') ? /^\d+$/.exec(n.slice(base.length + 1)) : null }))
    .filter((x) => x.m)
    .sort((a, b) => Number(b.m![0]) - Number(a.m![0]))
    .map((x) => join(dir, x.n));
  return names.includes(base) ? [...rotated, path] : rotated;
}

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

export async function readLogHistory(path: string, sinceMs?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const f of await rotatedLogFiles(path)) {
    try {
      parts.push(await readFile(f));
    } catch {
      // rotated away between listing and reading
    }
  }
  const all = Buffer.concat(parts);
  return sinceMs === undefined ? all : filterSince(all, sinceMs);
}
