// A port's log history across rotations, read with @vtcon/console's readLogFiles (oldest file
// first, the order port logs rotate in). With `sinceMs`, keeps only lines whose ISO
// timestamp prefix (sinks.timestamps) is at or after it; unstamped lines follow their
// predecessor's fate so a multi-chunk line is not cut.
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
