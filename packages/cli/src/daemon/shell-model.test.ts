import { describe, expect, it } from 'vitest';
import { ShellModel } from './shell-model.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('ShellModel', () => {
  it('echoes typed characters and runs echo on Enter', () => {
    const sh = new ShellModel('vm1', 'console');
    expect(sh.input(enc('echo hi'))).toBe('echo hi');
    expect(sh.input(enc('\r'))).toBe('\r\nhi\r\nvm1:~# ');
  });

  it('reports its size after a resize', () => {
    const sh = new ShellModel('vm1', 'console');
    expect(sh.resize(120, 40)).toContain('terminal is now 120x40');
    expect(sh.input(enc('stty size\n'))).toContain('40 120\r\n');
  });

  it('erases on backspace and ignores it on an empty line', () => {
    const sh = new ShellModel('vm1', 'c');
    expect(sh.input(enc('\x7f'))).toBe('');
    sh.input(enc('ab'));
    expect(sh.input(enc('\x7f'))).toBe('\b \b');
    expect(sh.input(enc('\r'))).toContain('a: command not found');
  });
});
