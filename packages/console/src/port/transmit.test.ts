// The one transmit pass (transmit.ts) on a real split ring in guest memory: what the driver sees
// and when, with the main thread's target (CopyTarget) and with a target that holds a chain the
// way a worker does when its byte ring is full (ring-target.ts).
import { DeviceQueue, DriverQueue, type RawChain } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';
import { describe, expect, it } from 'vitest';
import { CopyTarget, transmitPass, type TransmitTarget } from './transmit.js';

function setup() {
  const t = makeTestQueue({ size: 16 });
  const driver = new DriverQueue(t.memory, t.config);
  const device = new DeviceQueue(t.memory, t.config);
  const post = (text: string): void => {
    const bytes = new TextEncoder().encode(text);
    const addr = t.alloc.alloc(bytes.length, 16);
    t.memory.view(addr, bytes.length).set(bytes);
    driver.addChain([{ addr, len: bytes.length }], [], text);
    driver.kickPrepare();
  };
  /** used.idx as the driver reads it from guest memory. */
  const usedIdx = (): number => { const v = t.memory.view(t.config.usedAddr + 2, 2); return v[0]! | (v[1]! << 8); };
  const usedTokens = (): unknown[] => { const out: unknown[] = []; for (let u = driver.getUsed(); u !== null; u = driver.getUsed()) out.push(u.token); return out; };
  return { device, post, usedIdx, usedTokens };
}

const text = (parts: readonly Uint8Array[]): string[] => parts.map((p) => new TextDecoder().decode(p));

describe('transmitPass', () => {
  it('logs the batch before its chains are published used, then signals the driver once', () => {
    const { device, post, usedIdx, usedTokens } = setup();
    for (const s of ['a', 'bc', 'def']) post(s);
    const seen: { parts: string[]; usedIdx: number }[] = [];
    let notified = 0;
    const target = new CopyTarget();
    const r = transmitPass(device, target, () => { notified++; }, 256, 1024, { append: (parts) => seen.push({ parts: text(parts), usedIdx: usedIdx() }) });
    expect(r).toEqual({ chains: 3, more: false, error: null });
    expect(seen).toEqual([{ parts: ['a', 'bc', 'def'], usedIdx: 0 }]);
    expect(text(target.copies)).toEqual(['a', 'bc', 'def']);
    expect(usedIdx()).toBe(3);
    expect(usedTokens()).toEqual(['a', 'bc', 'def']);
    expect(notified).toBe(1);
  });

  it('stops at maxChains (more) and at a chain over the bound (CHAIN_TOO_BIG, the chains before it used)', () => {
    const { device, post, usedTokens } = setup();
    for (const s of ['a', 'b', 'c', 'toolong', 'd']) post(s);
    const first = transmitPass(device, new CopyTarget(), () => {}, 2, 4);
    expect(first).toEqual({ chains: 2, more: true, error: null });
    const target = new CopyTarget();
    const second = transmitPass(device, target, () => {}, 256, 4);
    expect(second.chains).toBe(1);
    expect(second.error).toMatchObject({ reason: 'CHAIN_TOO_BIG' });
    expect(text(target.copies)).toEqual(['c']);
    expect(usedTokens()).toEqual(['a', 'b', 'c']);
  });

  it('a chain the target holds is not used until it is finished, first in a later pass; nothing is popped while it waits', () => {
    const { device, post, usedTokens } = setup();
    for (const s of ['a', 'big', 'b']) post(s);
    let room = false;
    let held: { head: number; bytes: Uint8Array } | null = null;
    const target: TransmitTarget = {
      resumeHeld(logged) {
        if (held === null) return null;
        if (!room) return 'waiting';
        logged?.push(held.bytes);
        const head = held.head;
        held = null;
        return head;
      },
      take(chain: RawChain, len, logged) {
        const bytes = new Uint8Array(len);
        chain.copyReadable(bytes, 0);
        if (len > 1 && !room) { held = { head: chain.head, bytes }; return false; }
        logged?.push(bytes);
        return true;
      },
    };
    const log: string[][] = [];
    const journal = { append: (parts: readonly Uint8Array[]) => log.push(text(parts)) };
    expect(transmitPass(device, target, () => {}, 256, 1024, journal)).toEqual({ chains: 1, more: false, error: null });
    expect(transmitPass(device, target, () => {}, 256, 1024, journal)).toEqual({ chains: 0, more: false, error: null });
    expect(usedTokens()).toEqual(['a']);
    room = true;
    expect(transmitPass(device, target, () => {}, 256, 1024, journal)).toEqual({ chains: 2, more: false, error: null });
    expect(usedTokens()).toEqual(['big', 'b']);
    expect(log).toEqual([['a'], ['big', 'b']]);
  });
});
