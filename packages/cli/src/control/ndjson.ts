// NDJSON framing of the control API, as a pure byte parser (no I/O), so it is tested on bytes
// alone. Each push() scans only the new chunk for LF: a long line arriving in many chunks costs
// linear time, not a rescan of everything held per chunk. A line (LF excluded) longer than
// maxLine bytes is refused with LINE_TOO_LONG as soon as it is known to be too long, so a peer
// cannot make us hold more than maxLine + one chunk.
import { CliError } from '../errors.js';

/** Longest control API line accepted, in bytes (a request or reply is far smaller). */
export const MAX_LINE_BYTES = 1024 * 1024;

export class NdjsonSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(readonly maxLine = MAX_LINE_BYTES) {}

  /**
   * The complete non-empty lines `chunk` ends, decoded as UTF-8. Throws CliError('LINE_TOO_LONG'); the splitter is unusable afterwards (the connection ends).
   */
  push(chunk: Uint8Array): string[] {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: string[] = [];
    let start = 0;
    for (let lf = buf.indexOf(0x0a); lf >= 0; lf = buf.indexOf(0x0a, start)) {
      const piece = buf.subarray(start, lf);
      this.check(this.heldBytes + piece.length);
      const line = this.heldBytes === 0 ? piece : Buffer.concat([...this.held, piece]);
      this.held = [];
      this.heldBytes = 0;
      if (line.length > 0) lines.push(line.toString('utf8'));
      start = lf + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      this.check(this.heldBytes + rest.length);
      // Copy: the caller may reuse its chunk.
      this.held.push(Buffer.from(rest));
      this.heldBytes += rest.length;
    }
    return lines;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  private check(lineBytes: number): void {
    if (lineBytes > this.maxLine) {
      this.held = [];
      this.heldBytes = 0;
      throw new CliError('LINE_TOO_LONG', `line longer than ${this.maxLine} bytes; the connection is closed`, { scope: 'connection' });
    }
  }
}

/** Deepest nesting of arrays and objects a request may have (a real one has 3 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether the JSON text `line` nests arrays/objects deeper than `max`, by one scan that skips
 * strings. JSON.parse takes ~2 µs per level (0.7 s for a 1 MiB line of brackets, every VM's main
 * thread blocked meanwhile), so depth is refused before parsing.
 */
export function nestsDeeperThan(line: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
