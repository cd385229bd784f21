import { describe, expect, it } from 'vitest';
import { analyzeHistory, caseKey, median, primaryMetric } from './history.mjs';

/** A minimal valid run with one case. */
function run(i, c, machine = 'cpu') {
  return {
    schemaVersion: 1, date: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(), quick: false,
    machine: { cpuModel: machine, cores: 2, memoryBytes: 1, platform: 'linux', arch: 'x64', kernel: '6', loadavg: [0, 0, 0] },
    node: 'v20.0.0', packages: {}, git: { commit: null, dirty: null }, suites: [], cases: [c],
  };
}
const tput = (v) => ({ suite: 's', name: 'n', params: { b: 1 }, opsPerSec: v });
const lat = (v) => ({ suite: 's', name: 'lat', params: {}, p99Ns: v });

describe('analyzeHistory', () => {
  it('flags a throughput drop beyond 15 % of the median of the previous five runs', () => {
    const values = [100, 50, 100, 100, 100, 100, 84];   // 50 is an outlier the median ignores
    const { regressions, series } = analyzeHistory(values.map((v, i) => run(i, tput(v))));
    expect(regressions.map((r) => r.run)).toEqual([6, 1]);
    expect(regressions[0].reference).toBe(100);
    expect(series[0].points[5].regressed).toBe(false);
  });

  it('does not flag a drop inside the band', () => {
    expect(analyzeHistory([100, 100, 86].map((v, i) => run(i, tput(v)))).regressions).toEqual([]);
  });

  it('flags a latency rise, not a latency fall', () => {
    expect(analyzeHistory([100, 100, 60].map((v, i) => run(i, lat(v)))).regressions).toEqual([]);
    expect(analyzeHistory([100, 100, 120].map((v, i) => run(i, lat(v)))).regressions.map((r) => r.run)).toEqual([2]);
  });

  it('compares only runs on the same machine', () => {
    const runs = [run(0, tput(1000), 'big'), run(1, tput(100), 'small'), run(2, tput(100), 'small')];
    expect(analyzeHistory(runs).regressions).toEqual([]);
  });

  it('watches the baseline ratio as its own series', () => {
    const c = (r) => ({ ...tput(100), baseline: { name: 'C', opsPerSec: 100 / r }, ratio: r });
    const { regressions } = analyzeHistory([0.5, 0.5, 0.3].map((r, i) => run(i, c(r))));
    expect(regressions.map((r) => r.key)).toEqual([`${caseKey(tput(1))} · ratio`]);
  });
});

describe('helpers', () => {
  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
  it('primaryMetric prefers throughput and reads direction from the unit', () => {
    expect(primaryMetric({ suite: 's', name: 'n', params: {}, opsPerSec: 1, p99Ns: 2 })?.key).toBe('opsPerSec');
    expect(primaryMetric({ suite: 's', name: 'n', params: {}, value: 1, unit: 'bytes/vm' })?.better).toBe('lower');
    expect(primaryMetric({ suite: 's', name: 'n', params: {}, value: 1, unit: 'x' })?.better).toBe('higher');
  });
});
