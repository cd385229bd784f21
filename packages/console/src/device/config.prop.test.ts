import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeConfig, emergencyWriteByte, encodeConfig, readConfigRange, VIRTIO_CONSOLE_CONFIG_SIZE } from './config.js';

const cfgArb = fc.record({ cols: fc.nat(0xffff), rows: fc.nat(0xffff), maxNrPorts: fc.nat(0xffffffff), emergWr: fc.nat(0xffffffff) });

describe('virtio_console_config codec (property)', () => {
  it('round-trips and is 12 bytes', () => {
    fc.assert(fc.property(cfgArb, (c) => {
      const b = encodeConfig(c);
      expect(b.length).toBe(VIRTIO_CONSOLE_CONFIG_SIZE);
      expect(decodeConfig(b)).toEqual(c);
    }));
  });
  it('any in-range slice equals the same slice of the full encoding (emerg_wr reads 0)', () => {
    fc.assert(fc.property(cfgArb, fc.nat(12), fc.nat(12), (c, a, b) => {
      const [off, end] = a <= b ? [a, b] : [b, a];
      const full = encodeConfig({ ...c, emergWr: 0 });
      expect(readConfigRange(c, off, end - off)).toEqual(full.slice(off, end));
    }));
  });
  it('out-of-range accesses throw CONFIG_OUT_OF_RANGE', () => {
    fc.assert(fc.property(cfgArb, fc.integer({ min: -20, max: 40 }), fc.integer({ min: 0, max: 40 }), (c, off, size) => {
      fc.pre(off < 0 || off + size > 12);
      expect(() => readConfigRange(c, off, size)).toThrow(expect.objectContaining({ reason: 'CONFIG_OUT_OF_RANGE' }));
    }));
  });
  it('emerg_wr writes yield the character byte; other writes none', () => {
    fc.assert(fc.property(fc.nat(255), (ch) => {
      expect(emergencyWriteByte(8, new Uint8Array([ch, 0, 0, 0]))).toBe(ch);
      expect(emergencyWriteByte(0, new Uint8Array([1, 2, 3, 4]))).toBe(null);
      const whole = new Uint8Array(12); whole[8] = ch;
      expect(emergencyWriteByte(0, whole)).toBe(ch);
    }));
  });
});
