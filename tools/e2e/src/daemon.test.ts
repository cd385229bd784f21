import { describe, expect, it } from 'vitest';
import { daemonConfig, parseProcStatCpu } from './daemon.js';

describe('parseProcStatCpu', () => {
  it('adds utime and stime (fields 14, 15) in clock ticks, whatever the command name holds', () => {
    const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '250', '75', '0', '0', '20'];
    expect(parseProcStatCpu(`4242 (node) ${fields.join(' ')}`)).toBeCloseTo(3.25);
    expect(parseProcStatCpu(`4242 (a) b (c)) ${fields.join(' ')}`)).toBeCloseTo(3.25);
    expect(() => parseProcStatCpu('4242 (node) S 1')).toThrow(/unparsable/);
  });
});

describe('daemonConfig', () => {
  it('puts sockets and logs in the daemon folder and passes per-VM settings through', () => {
    const cfg = daemonConfig('/d', {
      vms: [{ name: 'vm1', maxPorts: 4, resizeOrder: 'rows-cols', ports: [{ name: 'console', console: true }, { name: 'p' }] }],
    }) as { daemon: Record<string, unknown>; vms: Record<string, unknown>[] };
    expect(cfg.daemon).toMatchObject({ control: '/d/control.sock', runtimeDir: '/d/run' });
    expect(cfg.vms[0]).toMatchObject({
      name: 'vm1', socket: '/d/vm1.vu.sock', maxPorts: 4, resizeOrder: 'rows-cols',
      ports: [{ name: 'console', console: true }, { name: 'p', console: false }],
      sinks: { logDir: '/d/logs' },
    });
    const plain = daemonConfig('/d', { vms: [{ name: 'x', ports: [{ name: 'c' }] }] }) as { vms: Record<string, unknown>[] };
    expect(plain.vms[0]).not.toHaveProperty('resizeOrder');
    expect(plain.vms[0]).not.toHaveProperty('maxPorts');
  });
});
