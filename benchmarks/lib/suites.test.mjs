import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeCase, runSuites } from './suites.mjs';

const root = mkdtempSync(path.join(os.tmpdir(), 'vtcon-suites-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

writeFileSync(path.join(root, 'good.mjs'), `export async function run({ quick, onProgress }) {
  onProgress(1, 1, 'only');
  return [{ suite: 'good', name: 'x', params: { quick }, opsPerSec: 50, baseline: { name: 'c', opsPerSec: 100 } }];
}`);
writeFileSync(path.join(root, 'throws.mjs'), `export async function run() { throw new Error('boom'); }`);
writeFileSync(path.join(root, 'noexport.mjs'), `export const other = 1;`);
writeFileSync(path.join(root, 'halfbad.mjs'), `export async function run() { return [{ name: 'ok', params: {}, p99Ns: 5 }, { name: 'bad', params: {} }]; }`);

/** Records what the runner reported. */
function recorder() {
  const lines = [];
  return {
    lines,
    reporter: {
      suiteStart: (n) => lines.push(`start ${n}`), suiteProgress: (d, t, l) => lines.push(`progress ${d}/${t} ${l}`),
      suiteEnd: (n, s) => lines.push(`end ${n} ${s}`), log: (l) => lines.push(l), close() {},
    },
  };
}

describe('runSuites', () => {
  it('runs a suite, derives the ratio, and reports each other outcome loudly', async () => {
    const { lines, reporter } = recorder();
    const { suites, cases } = await runSuites([
      { name: 'good', module: 'good.mjs', exportName: 'run' },
      { name: 'missing', module: 'missing/missing-bench.mjs', exportName: 'run' },
      { name: 'noexport', module: 'noexport.mjs', exportName: 'run' },
      { name: 'throws', module: 'throws.mjs', exportName: 'run' },
      { name: 'halfbad', module: 'halfbad.mjs', exportName: 'run' },
    ], { quick: true, root, reporter });
    expect(suites.map((s) => [s.name, s.status, s.cases])).toEqual([
      ['good', 'ok', 1], ['missing', 'not-available', 0], ['noexport', 'not-available', 0], ['throws', 'failed', 0], ['halfbad', 'failed', 1],
    ]);
    expect(cases.map((c) => [c.suite, c.name])).toEqual([['good', 'x'], ['halfbad', 'ok']]);
    expect(cases[0].ratio).toBe(0.5);
    expect(cases[0].params).toEqual({ quick: true });
    expect(suites[3].error).toContain('boom');
    expect(lines).toContain('progress 1/1 only');
    expect(lines.filter((l) => l.startsWith('!!! SUITE')).length).toBe(4);
    expect(lines).toContain('!!! SUITE MISSING NOT-AVAILABLE: missing/missing-bench.mjs does not exist');
  });
});

describe('normalizeCase', () => {
  it('keeps a ratio the suite measured and drops undefined fields', () => {
    const c = normalizeCase({ name: 'n', params: {}, opsPerSec: 1, baseline: { name: 'c', opsPerSec: 4 }, ratio: 0.3, p99Ns: undefined }, 's');
    expect(c).toEqual({ suite: 's', name: 'n', params: {}, opsPerSec: 1, baseline: { name: 'c', opsPerSec: 4 }, ratio: 0.3 });
  });
});
