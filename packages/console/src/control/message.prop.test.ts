import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeControl, encodeControl } from './message.js';
import { decodeResize, encodeResize } from './resize.js';
import { decodePortName, encodePortName, MAX_PORT_NAME_BYTES } from './port-name.js';
import { CONTROL_HEADER_SIZE } from './constants.js';

describe('virtio_console_control codec (property)', () => {
  it('decode(encode(m)) = m for any id/event/value/payload', () => {
    fc.assert(fc.property(fc.nat(0xffffffff), fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 200 }),
      (id, event, value, payload) => {
        const bytes = encodeControl(id, event, value, payload);
        expect(bytes.length).toBe(CONTROL_HEADER_SIZE + payload.length);
        const m = decodeControl(bytes);
        expect(m).toEqual({ id, event, value, payload });
      }));
  });

  it('is little-endian on the wire', () => {
    fc.assert(fc.property(fc.nat(0xffffffff), fc.nat(0xffff), fc.nat(0xffff), (id, event, value) => {
      const b = encodeControl(id, event, value);
      expect(b[0]! + b[1]! * 0x100 + b[2]! * 0x10000 + b[3]! * 0x1000000).toBe(id);
      expect(b[4]! | (b[5]! << 8)).toBe(event);
      expect(b[6]! | (b[7]! << 8)).toBe(value);
    }));
  });

  it('any buffer shorter than the header is refused with CONTROL_TOO_SHORT', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: CONTROL_HEADER_SIZE - 1 }), (b) => {
      expect(() => decodeControl(b)).toThrow(expect.objectContaining({ reason: 'CONTROL_TOO_SHORT' }));
    }));
  });

  it('decoding never throws anything but ConsoleError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try { decodeControl(b); } catch (e) { expect((e as { name: string }).name).toBe('ConsoleError'); }
    }));
  });

  it('RESIZE round-trips in both orders and the orders differ by a swap', () => {
    fc.assert(fc.property(fc.nat(0xffff), fc.nat(0xffff), (cols, rows) => {
      const spec = encodeResize({ cols, rows }, 'cols-rows');
      const old = encodeResize({ cols, rows }, 'rows-cols');
      expect(decodeResize(spec, 'cols-rows')).toEqual({ cols, rows });
      expect(decodeResize(old, 'rows-cols')).toEqual({ cols, rows });
      expect(decodeResize(spec, 'rows-cols')).toEqual({ cols: rows, rows: cols });
    }));
  });

  it('PORT_NAME: valid names round-trip with or without a trailing NUL', () => {
    const nameArb = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: MAX_PORT_NAME_BYTES });
    fc.assert(fc.property(nameArb, fc.boolean(), (name, nul) => {
      const bytes = encodePortName(name);
      expect(bytes.includes(0)).toBe(false);
      const withNul = nul ? new Uint8Array([...bytes, 0]) : bytes;
      expect(decodePortName(withNul)).toEqual({ ok: true, name });
    }));
  });

  it('PORT_NAME: any byte ≥ 0x80 is refused', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 50 }), fc.integer({ min: 0x80, max: 0xff }), fc.nat(),
      (b, high, at) => {
        const x = new Uint8Array([...b, 0x41]);
        x[at % b.length] = high;
        expect(decodePortName(x)).toEqual({ ok: false, why: 'NOT_ASCII' });
      }));
  });
});
