/**
 * Property: a DriverQueue and a DeviceQueue on the same memory, driven
 * through random interleavings and batch sizes, with and without EVENT_IDX
 * and indirect descriptors, following the notification protocol on both
 * sides (a sleeping device only wakes on a kick; a sleeping driver only
 * collects on a signal). Every chain is delivered exactly once, in order,
 * with the right written length, and nothing is left behind after the last
 * kick — i.e. no notification is lost.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceQueue } from './device-queue.js';
import { DriverQueue, type BufferSegment } from './driver-queue.js';
import { BufferPool, makeTestQueue } from './testing.js';

type Op =
  | { kind: 'add'; readable: number[]; writable: number[] }
  | { kind: 'kick' }
  | { kind: 'device'; budget: number }
  | { kind: 'driver' };
// Sizes are small so the ring fills and wraps often.

const segLens = fc.array(fc.integer({ min: 1, max: 32 }), { maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), readable: segLens, writable: segLens }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'kick' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('device' as const), budget: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'driver' as const }) },
);

function run(size: number, eventIdx: boolean, indirect: boolean, ops: Op[]): void {
  const t = makeTestQueue({ size, eventIdx, indirect, bytes: 1 << 18, shared: false });
  const pool = new BufferPool(t.alloc.alloc(32 * size * 6, 32), size * 6, 32);
  const drv = new DriverQueue(t.memory, t.config);
  const dev = new DeviceQueue(t.memory, t.config);
  // Each side is asleep (woken only by a notification), polling, or drained
  // (found its ring empty, not yet re-enabled notifications). Making
  // "drained" its own step lets the other side act in the race window.
  let device: 'sleep' | 'polling' | 'drained' = 'sleep';
  let driver: 'sleep' | 'collecting' | 'drained' = 'sleep';
  let seq = 0;
  const pending: { seq: number; segs: number[]; expectLen: number }[] = [];
  const delivered: number[] = [];

  const add = (readable: number[], writable: number[]) => {
    if (readable.length + writable.length === 0 || pool.available < readable.length + writable.length) return;
    const r: BufferSegment[] = readable.map((len) => ({ addr: pool.alloc()!, len }));
    const w: BufferSegment[] = writable.map((len) => ({ addr: pool.alloc()!, len }));
    for (const s of r) t.memory.view(s.addr, s.len).fill(seq & 0xff);
    const wBytes = writable.reduce((a, b) => a + b, 0);
    const head = drv.addChain(r, w, seq);
    const segs = [...r, ...w].map((s) => s.addr);
    if (head === null) {
      segs.forEach((a) => pool.free(a));
      return;
    }
    pending.push({ seq, segs, expectLen: wBytes >> 1 });
    seq++;
  };
  // Device: the virtio device loop — poll with notifications off, then re-enable and re-check.
  const deviceRun = (budget: number) => {
    if (device === 'drained') {
      device = dev.enableNotification() ? 'polling' : 'sleep';
      return;
    }
    if (device !== 'polling') return;
    dev.disableNotification();
    for (let i = 0; i < budget; i++) {
      const c = dev.popAvailable();
      if (c === null) {
        device = 'drained';
        break;
      }
      const tag = c.readable[0]?.[0];
      for (const v of c.readable) expect(v.every((b) => b === tag)).toBe(true);
      dev.addUsed(c.head, c.writableBytes >> 1);
    }
    dev.publishUsed();
    if (dev.needsNotification() && driver === 'sleep') {
      driver = 'collecting';
      drv.disableCallbacks(); // as an interrupt handler does
    }
  };
  // Driver: collect on a signal, then re-enable callbacks and honour "more pending".
  const driverRun = () => {
    if (driver === 'drained') {
      driver = drv.enableCallbacks() ? 'collecting' : 'sleep';
      return;
    }
    if (driver !== 'collecting') return;
    let u;
    while ((u = drv.getUsed()) !== null) {
      const p = pending.shift()!;
      expect(u.token).toBe(p.seq);
      expect(u.len).toBe(p.expectLen);
      p.segs.forEach((a) => pool.free(a));
      delivered.push(p.seq);
    }
    driver = 'drained';
  };
  const kick = () => {
    if (drv.kickPrepare() && device === 'sleep') device = 'polling';
  };

  for (const op of ops) {
    if (op.kind === 'add') add(op.readable, op.writable);
    else if (op.kind === 'kick') kick();
    else if (op.kind === 'device') deviceRun(op.budget);
    else driverRun();
  }
  // Quiesce: last kick, then both sides run only as notifications allow.
  kick();
  for (let i = 0; i < 4 * size + 16 && (device !== 'sleep' || driver !== 'sleep'); i++) {
    deviceRun(size + 1);
    driverRun();
  }
  expect(pending).toEqual([]); // nothing left unprocessed: no lost kick or signal
  expect(delivered).toEqual(Array.from({ length: seq }, (_, i) => i)); // exactly once, in order
}

describe('driver + device through random interleavings', () => {
  it('delivers every chain exactly once, in order, with its written length, and loses no notification', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8, 16),
        fc.boolean(),
        fc.boolean(),
        fc.array(opArb, { maxLength: 150 }),
        (size, eventIdx, indirect, ops) => run(size, eventIdx, indirect, ops),
      ),
      { numRuns: 300 },
    );
  });
});
