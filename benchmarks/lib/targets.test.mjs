// The fleet targets (issue 15) judged from a fleet suite's cases, as the runner and the page do.
import { describe, expect, it } from 'vitest';
import { evaluateTargets } from './targets.mjs';

const fleetCases = (lsNs, cpuRatio) => [
  { suite: 'fleet', name: 'fleet ls CLI', params: { hosts: 50, vms: 1000 }, p50Ns: lsNs, p99Ns: lsNs },
  { suite: 'fleet', name: 'fleet daemon CPU on vs off', params: {}, value: cpuRatio, unit: 'CPU on÷off' },
  { suite: 'fleet', name: 'fleet publish throughput per host', params: {}, bytesPerSec: 17.7e6, value: 67, unit: 'msgs/s', baseline: { name: 'local log rate (bytes/s)', opsPerSec: 44e6 }, ratio: 0.4 },
  { suite: 'fleet', name: 'fleet guest write to remote attach latency', params: {}, p50Ns: 6.9e6, p99Ns: 98e6 },
];
const byTarget = (cases) => Object.fromEntries(evaluateTargets(cases).filter((t) => t.target.startsWith('Fleet')).map((t) => [t.target, t]));

describe('fleet targets', () => {
  it('judge ls under 1 s and CPU under 1.3×, and report throughput and latency', () => {
    const met = byTarget(fleetCases(0.4e9, 1.2));
    expect(met['Fleet ls, 1,000 VMs on 50 hosts (CLI process, p50)']?.status).toBe('met');
    expect(met['Fleet daemon CPU per MiB, fleet on ÷ off']?.status).toBe('met');
    expect(met['Fleet publish throughput per host vs the local log rate']).toMatchObject({ status: 'reported', measured: '17.7 MB/s, 67 msgs/s (0.40× the log rate)' });
    expect(met['Fleet guest write → remote attach client, p50 / p99']).toMatchObject({ status: 'reported', measured: '6.90 ms / 98.00 ms' });
    const missed = byTarget(fleetCases(1.5e9, 2.75));
    expect(missed['Fleet ls, 1,000 VMs on 50 hosts (CLI process, p50)']?.status).toBe('missed');
    expect(missed['Fleet daemon CPU per MiB, fleet on ÷ off']?.status).toBe('missed');
    expect(Object.values(byTarget([])).map((t) => t.status)).toEqual(['no data', 'no data', 'no data', 'no data']);
  });
});
