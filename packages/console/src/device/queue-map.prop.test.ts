import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { queueCount, receiveqOf, roleOf, transmitqOf } from './queue-map.js';

describe('queue layout (property)', () => {
  it('roleOf inverts receiveqOf/transmitqOf for every port', () => {
    fc.assert(fc.property(fc.nat(1000), (p) => {
      expect(roleOf(receiveqOf(p))).toEqual({ kind: 'port', port: p, dir: 'receiveq' });
      expect(roleOf(transmitqOf(p))).toEqual({ kind: 'port', port: p, dir: 'transmitq' });
    }));
  });
  it('every index below queueCount has exactly one role; ports < maxPorts', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), (max) => {
      const n = queueCount(max, true);
      expect(n).toBe(2 + 2 * max);
      for (let i = 0; i < n; i++) {
        const r = roleOf(i);
        if (r.kind === 'port') expect(r.port).toBeLessThan(max);
      }
    }));
  });
  it('matches the spec table for the first ports', () => {
    expect([receiveqOf(0), transmitqOf(0), receiveqOf(1), transmitqOf(1), receiveqOf(2)]).toEqual([0, 1, 4, 5, 6]);
    expect(roleOf(2)).toEqual({ kind: 'control', dir: 'receiveq' });
    expect(roleOf(3)).toEqual({ kind: 'control', dir: 'transmitq' });
    expect(queueCount(5, false)).toBe(2);
  });
});
