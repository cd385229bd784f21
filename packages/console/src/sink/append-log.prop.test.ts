import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { AppendLog } from './append-log.js';
import { logFilePaths } from './log-reader.js';

const root = mkdtempSync(join(tmpdir(), 'vtcon-append-prop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Bytes rich in LFs so both cut rules (at a line end, at maxBytes) and rotate-first happen.
const byte = fc.oneof(fc.constant(0x0a), fc.integer({ min: 0, max: 255 }));
const part = fc.array(byte, { maxLength: 40 }).map((a) => Uint8Array.from(a));
const appendArb = fc.tuple(fc.array(part, { minLength: 0, maxLength: 4 }), fc.boolean());

describe('AppendLog (property)', () => {
  it('any appends, maxBytes and keep (nothing deleted): files within maxBytes, concatenated oldest-first = the input', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(appendArb, { maxLength: 30 }), fc.integer({ min: 1, max: 120 }), fc.boolean(), async (appends, maxBytes, reopen) => {
        const dir = join(root, `r${run++}`);
        const path = join(dir, 'p.log');
        const total = appends.reduce((n, [ps]) => n + ps.reduce((m, p) => m + p.length, 0), 0);
        const keep = total + 2; // more files than rotations can make: nothing is deleted
        let log = AppendLog.open({ path, maxBytes, keep });
        const expected: Uint8Array[] = [];
        for (const [parts, shared] of appends) {
          // Half the appends hand views over a SharedArrayBuffer, like the transmit path does.
          const given = shared
            ? parts.map((p) => {
              const v = new Uint8Array(new SharedArrayBuffer(p.length + 3), 3, p.length);
              v.set(p);
              return v;
            })
            : parts;
          log.append(given, 0);
          expected.push(...parts);
          if (reopen && expected.length % 5 === 0) {
            log.close();
            log = AppendLog.open({ path, maxBytes, keep });
          }
        }
        log.close();
        expect(log.failed).toBeNull();
        const files = await logFilePaths(path);
        const got = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
        expect(got.equals(Buffer.concat(expected))).toBe(true);
        for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(maxBytes);
        expect(readdirSync(dir).length).toBe(files.length);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});
