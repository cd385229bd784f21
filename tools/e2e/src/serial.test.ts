import { describe, expect, it } from 'vitest';
import { SerialConsole } from './serial.js';

describe('SerialConsole', () => {
  it('splits chunks into lines and drops the tty carriage returns', () => {
    const s = new SerialConsole();
    s.push('VTCON bo');
    s.push('ot 6.12\r\nVTCON begin info\r\npartial');
    expect(s.lines()).toEqual(['VTCON boot 6.12', 'VTCON begin info']);
    expect(s.output()).toBe('VTCON boot 6.12\r\nVTCON begin info\r\npartial');
  });

  it('resolves a wait with a line that already arrived', async () => {
    const s = new SerialConsole();
    s.push('a\nVTCON ports 2 vport0p0=c vport0p1=d\n');
    const m = await s.waitFor(/^VTCON ports (\d+)/);
    expect(m.match[1]).toBe('2');
    expect(m.index).toBe(1);
  });

  it('resolves a wait when the line arrives later, counting only lines from `from`', async () => {
    const s = new SerialConsole();
    s.push('VTCON size 24 80\n');
    const p = s.waitFor(/^VTCON size (\d+) (\d+)$/, { from: 1, timeoutMs: 1000 });
    s.push('VTCON size 50 ');
    s.push('132\n');
    const m = await p;
    expect([m.match[1], m.match[2], m.index]).toEqual(['50', '132', 1]);
  });

  it('fails a wait when the console closes first, with the reason', async () => {
    const s = new SerialConsole();
    const p = s.waitFor(/^never$/, { timeoutMs: 1000 });
    s.close('QEMU exited (code 1)');
    await expect(p).rejects.toThrow(/QEMU exited \(code 1\) before a serial line matched/);
    await expect(s.waitFor(/^never$/)).rejects.toThrow(/QEMU exited/);
  });

  it('keeps a last line without newline when closing, so it can still match', async () => {
    const s = new SerialConsole();
    s.push('VTCON done');
    s.close('QEMU exited');
    expect((await s.waitFor(/^VTCON done$/)).index).toBe(0);
  });

  it('fails a wait after its timeout', async () => {
    const s = new SerialConsole();
    await expect(s.waitFor(/^x$/, { timeoutMs: 10 })).rejects.toThrow(/within 10 ms/);
  });
});
