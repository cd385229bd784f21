import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { validateCase, validateRun, assertRun } from './schema.mjs';

const fixture = () => JSON.parse(readFileSync(new URL('../dashboard/fixtures/run-2025-11-20T09-00-00.000Z.json', import.meta.url), 'utf8'));

describe('validateRun', () => {
  it('accepts a fixture run', () => {
    expect(validateRun(fixture())).toEqual([]);
  });

  it('names each wrong field', () => {
    const run = fixture();
    run.schemaVersion = 0;
    run.machine.cores = 0;
    run.git.commit = 'not-a-sha';
    run.cases[0].opsPerSec = -1;
    run.cases[1].params = { bytes: [1] };
    const errors = validateRun(run);
    expect(errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^schemaVersion/), expect.stringMatching(/^machine\.cores/), expect.stringMatching(/^git\.commit/),
      expect.stringMatching(/^cases\[0\]\.opsPerSec/), expect.stringMatching(/^cases\[1\]\.params\.bytes/),
    ]));
    expect(() => assertRun(run, 'x.json')).toThrow(/x\.json is not a valid benchmark run/);
  });
});

describe('validateCase', () => {
  it('requires at least one statistic', () => {
    expect(validateCase({ suite: 'ring', name: 'a', params: {} })).toEqual([expect.stringMatching(/no statistic/)]);
  });
  it('requires a baseline behind a ratio and a unit behind a value', () => {
    expect(validateCase({ suite: 'ring', name: 'a', params: {}, opsPerSec: 1, ratio: 0.5 })).toEqual([expect.stringMatching(/ratio: needs the baseline/)]);
    expect(validateCase({ suite: 'c', name: 'idle', params: {}, value: 3 })).toEqual([expect.stringMatching(/unit: required/)]);
  });
  it('accepts a minimal latency case', () => {
    expect(validateCase({ suite: 't', name: 'kick', params: { batch: 1 }, p50Ns: 10, p99Ns: 30 })).toEqual([]);
  });
});
