import { describe, expect, it } from 'vitest';
import { DeviceQueue } from './device-queue.js';
import { DriverQueue } from './driver-queue.js';
import { RawChain } from './chain.js';
import { makeTestQueue } from './testing.js';

function pair(eventIdx: boolean, size = 8) {
  const t = makeTestQueue({ size, eventIdx, indirect: true, bytes: 1 << 16 });
  return { t, drv: new DriverQueue(t.memory, t.config), dev: new DeviceQueue(t.memory, t.config) };
}

describe('DeviceQueue', () => {
  it('pops chains in avail order and pushUsed returns them with the written length', () => {
    const { t, drv, dev } = pair(false);
    const a = t.alloc.alloc(64);
    t.memory.view(a, 4).set([1, 2, 3, 4]);
    drv.addChain([{ addr: a, len: 4 }], [], 'x');
    drv.addChain([], [{ addr: a + 8, len: 8 }], 'y');
    drv.kickPrepare();
    const c1 = dev.popAvailable()!;
    expect([...c1.readable[0]!]).toEqual([1, 2, 3, 4]);
    const c2 = dev.popAvailable()!;
    c2.writable[0]!.set([9, 9]);
    dev.pushUsed(c1.head, 0);
    dev.pushUsed(c2.head, 2);
    expect(drv.getUsed()).toEqual({ token: 'x', len: 0 });
    expect(drv.getUsed()).toEqual({ token: 'y', len: 2 });
    expect(drv.getUsed()).toBeNull();
    expect([...t.memory.view(a + 8, 2)]).toEqual([9, 9]);
  });
  it('popAvailableInto reuses one RawChain and copyReadable copies payloads', () => {
    const { t, drv, dev } = pair(false);
    const a = t.alloc.alloc(512, 8);
    t.memory.view(a, 512).forEach((_, i, v) => (v[i] = i & 0xff));
    drv.addBuffer(a, 128, false, 1);
    drv.addBuffer(a, 300, false, 2);
    drv.addChain([{ addr: a + 1, len: 5 }], [], 3);
    drv.kickPrepare();
    const chain = new RawChain();
    const dst = new Uint8Array(512);
    const words = new Int32Array(dst.buffer);
    for (const n of [128, 300, 5]) {
      expect(dev.popAvailableInto(chain)).toBe(true);
      dst.fill(0);
      expect(chain.copyReadable(dst, 0, words)).toBe(n);
      const first = n === 5 ? 1 : 0;
      expect([...dst.subarray(0, n)]).toEqual(Array.from({ length: n }, (_, i) => (i + first) & 0xff));
    }
    expect(dev.popAvailableInto(chain)).toBe(false);
  });
  it('without EVENT_IDX: NO_INTERRUPT suppresses signals, NO_NOTIFY suppresses kicks', () => {
    const { t, drv, dev } = pair(false);
    const a = t.alloc.alloc(16);
    dev.disableNotification();
    drv.addBuffer(a, 16, false, 0);
    expect(drv.kickPrepare()).toBe(false);
    expect(dev.enableNotification()).toBe(true); // it raced in: re-poll
    drv.addBuffer(a, 16, false, 1);
    expect(drv.kickPrepare()).toBe(true);
    drv.disableCallbacks();
    dev.pushUsed(dev.popAvailable()!.head, 0);
    expect(dev.needsNotification()).toBe(false);
    expect(drv.enableCallbacks()).toBe(true); // more pending
    dev.pushUsed(dev.popAvailable()!.head, 0);
    expect(dev.needsNotification()).toBe(true);
    expect(dev.needsNotification()).toBe(false); // nothing new since
  });
  it('with EVENT_IDX: kicks and signals only when the event index is crossed', () => {
    const { t, drv, dev } = pair(true);
    const a = t.alloc.alloc(16);
    expect(dev.enableNotification()).toBe(false); // avail_event = 0
    drv.addBuffer(a, 16, false, 0);
    drv.addBuffer(a, 16, false, 1);
    expect(drv.kickPrepare()).toBe(true); // crossed avail_event 0
    dev.disableNotification();
    drv.addBuffer(a, 16, false, 2);
    expect(drv.kickPrepare()).toBe(false); // avail_event stale at 0
    const heads = [dev.popAvailable()!.head, dev.popAvailable()!.head, dev.popAvailable()!.head];
    expect(dev.enableNotification()).toBe(false); // avail_event = 3
    drv.addBuffer(a, 16, false, 3);
    expect(drv.kickPrepare()).toBe(true);
    // Driver callbacks on with used_event 0: the first used entry signals, later ones not until it collects.
    dev.pushUsed(heads[0]!, 0);
    expect(dev.needsNotification()).toBe(true);
    dev.pushUsed(heads[1]!, 0);
    expect(dev.needsNotification()).toBe(false);
    expect(drv.getUsed()!.token).toBe(0);
    expect(drv.getUsed()!.token).toBe(1); // used_event now 2
    dev.pushUsed(heads[2]!, 0);
    expect(dev.needsNotification()).toBe(true);
  });
  it('readChain re-reads a popped head after a restart (inflight resubmission) without moving the avail ring', () => {
    const { t, drv, dev } = pair(false);
    const a = t.alloc.alloc(64);
    t.memory.view(a, 3).set([5, 6, 7]);
    drv.addChain([{ addr: a, len: 3 }], [{ addr: a + 16, len: 4 }], 'held');
    drv.kickPrepare();
    const head = dev.popAvailable()!.head;
    // A new back-end resumes past the popped chain and re-reads it by head.
    const dev2 = new DeviceQueue(t.memory, t.config, { lastAvailIdx: 1, usedIdx: 0 });
    const c = dev2.readChain(head);
    expect([...c.readable[0]!]).toEqual([5, 6, 7]);
    expect(c.writableBytes).toBe(4);
    expect(dev2.lastAvailIdx).toBe(1);
    expect(dev2.popAvailable()).toBeNull();
    dev2.pushUsed(head, 4);
    expect(drv.getUsed()).toEqual({ token: 'held', len: 4 });
    expect(() => dev2.readChain(8)).toThrow(expect.objectContaining({ reason: 'DESC_INDEX_OUT_OF_RANGE' }));
    expect(dev2.broken?.reason).toBe('DESC_INDEX_OUT_OF_RANGE');
  });

  it('restores from an untrusted state and rejects non-16-bit indices', () => {
    const t = makeTestQueue({ size: 8, bytes: 1 << 16 });
    expect(new DeviceQueue(t.memory, t.config, { lastAvailIdx: 65535, usedIdx: 65535 }).state()).toEqual({ lastAvailIdx: 65535, usedIdx: 65535 });
    expect(() => new DeviceQueue(t.memory, t.config, { lastAvailIdx: 65536, usedIdx: 0 })).toThrow(expect.objectContaining({ reason: 'INVALID_STATE' }));
  });
  it('rejects misaligned or unmapped ring parts', () => {
    const t = makeTestQueue({ size: 8, bytes: 1 << 16 });
    expect(() => new DeviceQueue(t.memory, { ...t.config, usedAddr: t.config.usedAddr + 2 })).toThrow(expect.objectContaining({ reason: 'RING_MISALIGNED' }));
    expect(() => new DeviceQueue(t.memory, { ...t.config, descAddr: 0 })).toThrow(expect.objectContaining({ reason: 'ADDR_OUT_OF_RANGE' }));
  });
  it('addUsed rejects heads outside the queue without breaking it', () => {
    const { dev } = pair(false);
    expect(() => dev.pushUsed(8, 0)).toThrow(expect.objectContaining({ reason: 'INVALID_ARGUMENT' }));
    expect(dev.broken).toBeNull();
  });
});
