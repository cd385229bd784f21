// A bounded scrollback with a per-chunk time index, enough for `logs --since` and attach replay
// in the simulated fleet, which must work without the device stack (the real fleet uses
// @vtcon/console's Scrollback sink).
export class LineScrollback {
  private chunks: { at: number; bytes: Buffer }[] = [];
  private size = 0;

  constructor(private readonly capacity: number) {}

  write(bytes: Uint8Array, at: number): void {
    this.chunks.push({ at, bytes: Buffer.from(bytes) });
    this.size += bytes.length;
    // Keep the newest `capacity` bytes: drop whole chunks, then trim the oldest one.
    while (this.size > this.capacity && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.capacity;
      if (first.bytes.length <= excess) {
        this.chunks.shift();
        this.size -= first.bytes.length;
      } else {
        first.bytes = first.bytes.subarray(excess);
        this.size -= excess;
      }
    }
  }

  lastLines(n: number): Uint8Array {
    if (n <= 0) return new Uint8Array(0);
    const all = Buffer.concat(this.chunks.map((c) => c.bytes));
    let i = all.length;
    // The current (unterminated) line counts as one of the N.
    let seen = 0;
    while (i > 0) {
      const j = all.lastIndexOf(0x0a, i - 1 - (seen === 0 && all[i - 1] === 0x0a ? 1 : 0));
      if (j < 0) return all;
      seen++;
      if (seen >= n) return all.subarray(j + 1);
      i = j;
    }
    return all;
  }

  read(opts: { sinceMs?: number; lastLines?: number }): Uint8Array {
    if (opts.lastLines !== undefined && opts.sinceMs === undefined) return this.lastLines(opts.lastLines);
    const since = opts.sinceMs ?? -Infinity;
    const out = Buffer.concat(this.chunks.filter((c) => c.at >= since).map((c) => c.bytes));
    if (opts.lastLines === undefined) return out;
    const tmp = new LineScrollback(Number.MAX_SAFE_INTEGER);
    tmp.write(out, 0);
    return tmp.lastLines(opts.lastLines);
  }
}
