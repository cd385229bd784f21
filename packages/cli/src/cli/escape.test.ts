import { describe, expect, it } from 'vitest';
import { EscapeFilter, describeEscape, parseEscape } from './escape.js';

describe('escape', () => {
  it('parses caret notation', () => {
    expect(parseEscape('^]')).toBe(0x1d);
    expect(parseEscape('^a')).toBe(0x01);
    expect(describeEscape(0x1d)).toBe('Ctrl-]');
  });

  it('detaches on ESC then . even across chunks', () => {
    const f = new EscapeFilter(0x1d);
    expect(f.push(Uint8Array.of(0x61, 0x1d))).toEqual({ forward: Uint8Array.of(0x61), detach: false });
    expect(f.push(Uint8Array.of(0x2e)).detach).toBe(true);
  });

  it('sends a doubled escape once and passes other sequences through', () => {
    const f = new EscapeFilter(0x1d);
    expect(f.push(Uint8Array.of(0x1d, 0x1d)).forward).toEqual(Uint8Array.of(0x1d));
    expect(f.push(Uint8Array.of(0x1d, 0x62)).forward).toEqual(Uint8Array.of(0x1d, 0x62));
  });
});
