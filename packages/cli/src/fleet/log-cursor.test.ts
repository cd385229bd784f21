// LogReader against real files rotated the way AppendLog rotates them (path -> path.1 -> ...,
// the oldest beyond `keep` deleted): whatever the interleaving of appends, rotations and reads
// (into buffers of any size, reused from read to read), the chunks concatenate to the history,
// each says where it starts, and a resume from any chunk's end goes on with the same bytes.
import { appendFileSync, existsSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/binary.js';
import { LogReader, type LogPosition } from './log-cursor.js';

const KEEP = 3;

function rotate(path: string): void {
  if (existsSync(`${path}.${KEEP - 1}`)) unlinkSync(`${path}.${KEEP - 1}`);
  for (let k = KEEP - 2; k >= 1; k--) if (existsSync(`${path}.${k}`)) renameSync(`${path}.${k}`, `${path}.${k + 1}`);
  if (existsSync(path)) renameSync(path, `${path}.1`);
}

type Op = { append: number } | { rotate: true } | { read: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3000 }).map((append) => ({ append })) },
  { weight: 1, arbitrary: fc.constant({ rotate: true as const }) },
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 2048 }).map((read) => ({ read })) },
);

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('LogReader', () => {
  it('reads the history byte for byte across rotations, resumable from any chunk end', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
      const dir = tempDir('vtcon-log-cursor-');
      dirs.push(dir);
      const path = join(dir, 'port.log');
      const reader = new LogReader(path);
      const written: Buffer[] = [];
      const read: Buffer[] = [];
      let at: LogPosition | null = null;
      let unread = 0; // written but not yet read; rotations keep at most KEEP files, we read before more
      const buffers = new Map<number, Buffer>();
      let counter = 0;
      const readOnce = async (size: number): Promise<boolean> => {
        const into = buffers.get(size) ?? Buffer.alloc(size);
        buffers.set(size, into); // the same buffer again for the same size: chunks are copied out
        const c = await reader.read(at, into);
        if (!c) return false;
        expect(c.gap).toBe(false);
        if (at) expect(c.at.pos).toBe(c.at.ino === at.ino ? at.pos : 0); // where the last chunk ended, or a next file's start
        read.push(Buffer.from(c.bytes));
        unread -= c.bytes.length;
        at = { ino: c.at.ino, pos: c.at.pos + c.bytes.length };
        return true;
      };
      try {
        for (const o of ops) {
          if ('append' in o) {
            const b = Buffer.from(Array.from({ length: o.append }, () => 33 + (counter++ % 90)));
            appendFileSync(path, b);
            written.push(b);
            unread += b.length;
          } else if ('rotate' in o) {
            // AppendLog rotates the file it writes, once it holds bytes; never a missing one (two
            // rotations in a row would push a file out with no newer file written: no reader can
            // tell that from a gap).
            if (!existsSync(path)) continue;
            // Never rotate bytes we have not read out of the kept files (that would be a real gap).
            while (unread > 0) await readOnce(4096);
            rotate(path);
          } else {
            await readOnce(o.read);
          }
        }
        while (await readOnce(1000));
        expect(Buffer.concat(read).equals(Buffer.concat(written))).toBe(true);
        // A second reader resuming where the first stopped finds nothing more.
        const again = new LogReader(path);
        expect(await again.read(at, Buffer.alloc(100))).toBeNull();
        await again.close();
      } finally {
        await reader.close();
      }
    }), { numRuns: Number(process.env.VTCON_PROP_RUNS ?? 40) });
  }, 60_000);

  it('finishes a file rotated away under it, then reports the gap and starts at the oldest kept file', async () => {
    const dir = tempDir('vtcon-log-cursor-');
    dirs.push(dir);
    const path = join(dir, 'port.log');
    appendFileSync(path, 'old');
    const reader = new LogReader(path);
    const first = (await reader.read(null, Buffer.alloc(2)))!;
    expect(first.bytes.toString()).toBe('ol');
    appendFileSync(path, 'er');
    for (let i = 0; i < KEEP; i++) { rotate(path); appendFileSync(path, `f${i}`); } // 'older' deleted
    const rest = (await reader.read({ ino: first.at.ino, pos: 2 }, Buffer.alloc(10)))!;
    expect([rest.bytes.toString(), rest.gap]).toEqual(['der', false]);
    const next = (await reader.read({ ino: first.at.ino, pos: 5 }, Buffer.alloc(10)))!;
    expect([next.bytes.toString(), next.gap]).toEqual(['f0', true]);
    await reader.close();
  });
});
