import { describe, expect, it } from 'vitest';
import { DeviceQueue } from './device-queue.js';
import { DriverQueue } from './driver-queue.js';
import { makeTestQueue } from './testing.js';

function pair(eventIdx: boolean, size = 8) {
  const t = makeTestQueue({ size, eventIdx, indirect: true, bytes: 1 << 16 });
  return { t, drv: new DriverQueue(t.memory, t.config), dev: new DeviceQueue(t.memory, t.config) };
}

describe('DriverQueue', () => {
  it('returns null when full and frees descriptors on getUsed', () => {
    const { t, drv, dev } = pair(false, 4);
    const a = t.alloc.alloc(64);
    expect(drv.addChain([{ addr: a, len: 1 }, { addr: a, len: 1 }, { addr: a, len: 1 }], [], 0)).not.toBeNull(); // indirect: 1 desc
    drv.addBuffer(a, 1, false, 1);
    drv.addBuffer(a, 1, false, 2);
    drv.addBuffer(a, 1, false, 3);
    expect(drv.numFree).toBe(0);
    expect(drv.addBuffer(a, 1, false, 4)).toBeNull();
    drv.kickPrepare();
    const c = dev.popAvailable()!;
    expect(c.readable.length).toBe(3);
    dev.pushUsed(c.head, 0);
    expect(drv.getUsed()!.token).toBe(0);
    expect(drv.numFree).toBe(1);
  });
  it('breaks on a used entry naming a head that is not outstanding', () => {
    const { t, drv, dev } = pair(false);
    drv.addBuffer(t.alloc.alloc(8), 8, false, 0);
    drv.kickPrepare();
    dev.pushUsed(5, 0);
    expect(() => drv.getUsed()).toThrow(expect.objectContaining({ reason: 'USED_ID_INVALID' }));
    expect(drv.broken?.reason).toBe('USED_ID_INVALID');
  });
  it('breaks on used.idx beyond the outstanding chains', () => {
    const { t, drv, dev } = pair(false);
    drv.addBuffer(t.alloc.alloc(8), 8, false, 0);
    drv.kickPrepare();
    dev.pushUsed(0, 0);
    dev.pushUsed(0, 0);
    expect(() => drv.getUsed()).toThrow(expect.objectContaining({ reason: 'USED_IDX_TOO_FAR' }));
  });
});
