import { describe, expect, it } from 'vitest';
import { checkPortName, decodePortName, encodePortName, MAX_PORT_NAME_BYTES } from './port-name.js';

describe('PORT_NAME', () => {
  it('device side sends no trailing NUL (spec), unlike QEMU', () => {
    expect([...encodePortName('org.test.console')].at(-1)).toBe('e'.charCodeAt(0));
  });
  it('empty and NUL-only names are ignored (seed: vtcon_ctrl_port_name_event)', () => {
    expect(decodePortName(new Uint8Array())).toEqual({ ok: false, why: 'EMPTY' });
    expect(decodePortName(new Uint8Array([0]))).toEqual({ ok: false, why: 'EMPTY' });
  });
  it('host-side names: refuses spaces, non-ASCII, over-long', () => {
    expect(() => checkPortName('a b')).toThrow(expect.objectContaining({ reason: 'NAME_NOT_ASCII' }));
    expect(() => checkPortName('café')).toThrow(expect.objectContaining({ reason: 'NAME_NOT_ASCII' }));
    expect(() => checkPortName('')).toThrow(expect.objectContaining({ reason: 'NAME_NOT_ASCII' }));
    expect(() => checkPortName('x'.repeat(MAX_PORT_NAME_BYTES + 1))).toThrow(expect.objectContaining({ reason: 'NAME_TOO_LONG' }));
    expect(() => checkPortName('x'.repeat(MAX_PORT_NAME_BYTES))).not.toThrow();
  });
});
