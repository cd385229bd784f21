/**
 * InflightQueue against the spec's crash points: a back-end may die before, during or after
 * any step of completing a batch, and recover() must give back exactly the unused chains.
 */
import { describe, expect, it } from 'vitest';
import { DeviceQueue, DriverQueue } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';
import { InflightQueue, inflightHeads, inflightQueueRegionSize } from './inflight.js';

const SIZE = 16;

function setup() {
  const t = makeTestQueue({ size: SIZE, eventIdx: false, bytes: 1 << 16 });
  const drv = new DriverQueue(t.memory, t.config);
  const buf = new Uint8Array(new SharedArrayBuffer(inflightQueueRegionSize(SIZE)));
  const post = (n: number) => { for (let i = 0; i < n; i++) drv.addChain([], [{ addr: t.alloc.alloc(16), len: 16 }], i); drv.kickPrepare(); };
  const usedIdx = () => { const b = t.memory.view(t.config.usedAddr, 4); return b[2]! | (b[3]! << 8); };
  return { t, drv, buf, post, usedIdx };
}

describe('InflightQueue', () => {
  it('a fresh region is stamped and keeps the SET_VRING_BASE position', () => {
    const { buf } = setup();
    const q = new InflightQueue(buf, SIZE);
    expect(q.recover(5, 9)).toEqual({ recovered: false, resubmit: [], lastAvailIdx: 9 });
    const dv = new DataView(buf.buffer);
    expect([dv.getUint16(8, true), dv.getUint16(10, true), dv.getUint16(14, true)]).toEqual([1, SIZE, 5]);
    expect(new InflightQueue(buf, SIZE).recover(5, 0).recovered).toBe(true);
    // A region written for another queue size is not trusted.
    expect(new InflightQueue(buf, SIZE / 2).recover(5, 3)).toEqual({ recovered: false, resubmit: [], lastAvailIdx: 3 });
  });

  it('out-of-order completion: recovery resubmits exactly the unused heads, in pop order', () => {
    const { t, drv, buf, post, usedIdx } = setup();
    post(6);
    const q = new InflightQueue(buf, SIZE);
    q.recover(0, 0);
    const dq = new DeviceQueue(t.memory, t.config);
    const heads: number[] = [];
    for (let c = dq.popAvailable(); c; c = dq.popAvailable()) { q.popped(c.head); heads.push(c.head); }
    q.pushUsed(dq, heads[4]!, 1);
    q.addUsed(dq, heads[1]!, 1);
    q.addUsed(dq, heads[3]!, 1);
    q.publishUsed(dq);
    expect(q.heads()).toEqual([heads[0], heads[2], heads[5]]);
    // Crash now; a new back-end over the same region and ring:
    const r = new InflightQueue(buf, SIZE).recover(usedIdx(), usedIdx());
    expect(r).toEqual({ recovered: true, resubmit: [heads[0], heads[2], heads[5]], lastAvailIdx: 6 });
    expect(inflightHeads(buf, 0, SIZE)).toEqual(r.resubmit);
    const got: unknown[] = [];
    for (let u = drv.getUsed(); u; u = drv.getUsed()) got.push(u.token);
    expect(got).toEqual([4, 1, 3]);
  });

  it('a crash after used.idx moved but before the batch was cleared: the last batch is not resubmitted', () => {
    const { t, buf, post, usedIdx } = setup();
    post(5);
    const q = new InflightQueue(buf, SIZE);
    q.recover(0, 0);
    const dq = new DeviceQueue(t.memory, t.config);
    const heads: number[] = [];
    for (let c = dq.popAvailable(); c; c = dq.popAvailable()) { q.popped(c.head); heads.push(c.head); }
    q.pushUsed(dq, heads[0]!, 1); // a complete earlier batch
    q.addUsed(dq, heads[2]!, 1);
    q.addUsed(dq, heads[3]!, 1);
    dq.publishUsed(); // ...and the process dies before InflightQueue.publishUsed's clearing
    expect(q.heads()).toEqual([heads[1], heads[2], heads[3], heads[4]]);
    const r = new InflightQueue(buf, SIZE).recover(usedIdx(), 0);
    expect(r.resubmit).toEqual([heads[1], heads[4]]);
    expect(r.lastAvailIdx).toBe(5);
  });

  it('a crash before used.idx moved: the whole unpublished batch is resubmitted', () => {
    const { t, buf, post, usedIdx } = setup();
    post(3);
    const q = new InflightQueue(buf, SIZE);
    q.recover(0, 0);
    const dq = new DeviceQueue(t.memory, t.config);
    const heads: number[] = [];
    for (let c = dq.popAvailable(); c; c = dq.popAvailable()) { q.popped(c.head); heads.push(c.head); }
    q.addUsed(dq, heads[0]!, 1);
    q.addUsed(dq, heads[1]!, 1); // entries written, idx not published: the driver never saw them
    const r = new InflightQueue(buf, SIZE).recover(usedIdx(), 0);
    expect(r.resubmit).toEqual(heads);
    expect(r.lastAvailIdx).toBe(3);
  });

  it('recovery continues the fetch counter and tolerates a corrupt batch list', () => {
    const { t, buf, post } = setup();
    post(2);
    const q = new InflightQueue(buf, SIZE);
    q.recover(0, 0);
    const dq = new DeviceQueue(t.memory, t.config);
    const a = dq.popAvailable()!.head; q.popped(a);
    const b = dq.popAvailable()!.head; q.popped(b);
    const q2 = new InflightQueue(buf, SIZE);
    expect(q2.recover(0, 0).resubmit).toEqual([a, b]);
    q2.unpopped(a);
    q2.popped(a); // re-fetched later: now newer than b
    expect(q2.heads()).toEqual([b, a]);
    // The front-end owns this memory: garbage in last_batch_head/next must not hang or throw.
    const dv = new DataView(buf.buffer);
    dv.setUint16(12, 0xffff, true);
    dv.setUint16(14, 3, true); // used_idx behind the ring's (0): "stale" batch of 65533
    expect(() => new InflightQueue(buf, SIZE).recover(0, 0)).not.toThrow();
    expect(() => new InflightQueue(buf.subarray(0, 64), SIZE)).toThrow(RangeError);
  });
});
