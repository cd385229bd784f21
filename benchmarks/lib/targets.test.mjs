import { describe, expect, it } from 'vitest';
import { evaluateTargets } from './targets.mjs';

const base = { suite: 'real-guest', baseline: { name: 'QEMU virtio-serial in-process (bytes/s)', opsPerSec: 10e6 } };
const g2h = (port, readers, bs = '64k') => ({ realGuest: true, dir: 'guest→host', port, bs, readers, mib: 16 });

describe('real-guest targets', () => {
  it('say "no data" without real-guest cases', () => {
    const rows = evaluateTargets([]).filter((t) => t.target.startsWith('Real guest'));
    expect(rows.length).toBe(4);
    for (const r of rows) expect(r.status).toBe('no data');
  });

  it('judge hvc0 with a reader and named ports against QEMU in the same run, and the daemon CPU', () => {
    const cases = [
      { ...base, name: 'qemu-guest hvc0 2048 1 reader', params: g2h('hvc0', 1, '2048'), bytesPerSec: 13e6, ratio: 1.3 },
      { ...base, name: 'qemu-guest hvc0 64k 1 reader', params: g2h('hvc0', 1), bytesPerSec: 11e6, ratio: 1.1 },
      { ...base, name: 'qemu-guest hvc0 64k 0 readers', params: g2h('hvc0', 0), bytesPerSec: 5e6, ratio: 0.5 },
      { suite: 'real-guest', name: 'qemu-guest hvc0 64k 1 reader daemon CPU', params: g2h('hvc0', 1), value: 0.01, unit: 's/MiB' },
      { ...base, name: 'qemu-guest named 64k 0 readers', params: g2h('named', 0), bytesPerSec: 11e6, ratio: 1.1 },
      { suite: 'real-guest', name: 'qemu-guest named 64k 0 readers daemon CPU', params: g2h('named', 0), value: 0.005, unit: 's/MiB' },
    ];
    const by = Object.fromEntries(evaluateTargets(cases).map((t) => [t.target, t]));
    expect(by['Real guest, hvc0 with a reader attached, vs QEMU in-process'].status).toBe('missed'); // 1.1× < 1.2× (the 0-reader case does not count)
    expect(by['Real guest, hvc0 with a reader attached, vs QEMU in-process'].measured).toContain('1.30×');
    expect(by['Real guest, hvc0 with a reader attached, daemon CPU'].status).toBe('met');
    expect(by['Real guest, named port, vs QEMU in-process'].status).toBe('met');
    expect(by['Real guest, named port, daemon CPU'].status).toBe('missed');
    expect(by['Real-guest throughput (QEMU + Linux guest)'].status).toBe('reported');
  });
});
