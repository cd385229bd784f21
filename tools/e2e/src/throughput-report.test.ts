import { describe, expect, it } from 'vitest';
import { formatTable, median, realGuestCases, type CaseSummary, throughputCases, throughputSettings } from './throughput-report.js';

const validateCase = async (c: unknown): Promise<string[]> =>
  ((await import(new URL('../../../benchmarks/lib/schema.mjs', import.meta.url).href)) as { validateCase(c: unknown): string[] }).validateCase(c);

describe('throughput settings and cases', () => {
  it('defaults: 16 MiB hvc0, 64 MiB named port, 16 MiB host→guest, 3 rounds, every case', () => {
    const s = throughputSettings({}, '/r');
    expect(s).toEqual({ hvcMiB: 16, portMiB: 64, h2gMiB: 16, rounds: 3, only: [], out: '/r' });
    expect(throughputCases(s).map((c) => c.id)).toEqual([
      'g2h-hvc0-2048-none', 'g2h-hvc0-2048-raw', 'g2h-hvc0-2048-ro', 'g2h-hvc0-64k-none', 'g2h-hvc0-64k-raw', 'g2h-hvc0-64k-ro',
      'g2h-named-64k-none', 'g2h-named-64k-raw', 'g2h-named-64k-ro', 'h2g-attach', 'h2g-send',
    ]);
  });

  it('a quick run from the environment: one size for all, fewer rounds, some cases, no record', () => {
    const s = throughputSettings({ VTCON_TP_MIB: '2', VTCON_TP_ROUNDS: '1', VTCON_TP_CASES: 'hvc0-64k,h2g-send', VTCON_TP_OUT: '-' }, '/r');
    expect(s).toMatchObject({ hvcMiB: 2, portMiB: 2, h2gMiB: 2, rounds: 1, out: null });
    expect(throughputCases(s).map((c) => c.id)).toEqual(['g2h-hvc0-64k-none', 'g2h-hvc0-64k-raw', 'g2h-hvc0-64k-ro', 'h2g-send']);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => throughputSettings({ VTCON_TP_ROUNDS: '0' }, '/r')).toThrow(/VTCON_TP_ROUNDS/);
    expect(() => throughputSettings({ VTCON_TP_HVC_MIB: '1.5' }, '/r')).toThrow(/VTCON_TP_HVC_MIB/);
  });

  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('throughput report', () => {
  const [hvcRaw] = throughputCases(throughputSettings({ VTCON_TP_CASES: 'hvc0-2048-raw' }, '/r'));
  const row: CaseSummary = {
    c: hvcRaw!,
    vtcon: [10e6, 20e6, 30e6].map((b, i) => ({ bytesPerSec: b, cpuPerMiB: 0.01 * (i + 1), mainCpuPerMiB: 0.001, exact: i !== 1 })),
    qemu: [10e6, 10e6, 10e6].map((b) => ({ bytesPerSec: b, exact: true })),
  };

  it('prints medians side by side with the ratio, CPU per MiB and the exact counts', () => {
    const t = formatTable([row]);
    expect(t.split('\n')[0]).toMatch(/^case\s+vtcon MB\/s/);
    expect(t).toMatch(/hvc0 dd bs=2048 16 MiB, 1 raw reader\s+20\.0\s+10\.0–30\.0\s+10\.0\s+10\.0–10\.0\s+2\.00×\s+0\.0200\s+0\.0010\s+2\/3 exact\s+3\/3 exact/);
  });

  it('records valid benchmark cases: throughput against the QEMU baseline, and the CPU per MiB', async () => {
    const cases = realGuestCases([row]);
    expect(cases).toHaveLength(2);
    expect(cases[0]).toMatchObject({ suite: 'real-guest', bytesPerSec: 20e6, ratio: 2, baseline: { opsPerSec: 10e6 }, params: { realGuest: true, port: 'hvc0', readers: 1 } });
    expect(cases[1]).toMatchObject({ value: 0.02, unit: 's/MiB' });
    for (const c of cases) expect(await validateCase(c)).toEqual([]);
  });
});
