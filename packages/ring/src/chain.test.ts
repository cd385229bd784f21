import { describe, expect, it } from 'vitest';
import { DeviceQueue } from './device-queue.js';
import { MAX_INDIRECT_CHAIN } from './chain.js';
import { VIRTQ_DESC_F_INDIRECT as IND, VIRTQ_DESC_F_NEXT as NEXT, VIRTQ_DESC_F_WRITE as WRITE } from './descriptor.js';
import type { VirtqueueErrorReason } from './errors.js';
import { makeTestQueue } from './testing.js';

/** A queue whose descriptor table and avail ring the test writes by hand (as a hostile guest would). */
function rig(opts: { indirect?: boolean } = {}) {
  const t = makeTestQueue({ size: 8, indirect: opts.indirect ?? true, shared: false, bytes: 1 << 16 });
  const dv = (addr: number, len: number) => {
    const v = t.memory.view(addr, len);
    return new DataView(v.buffer, v.byteOffset, v.byteLength);
  };
  const writeDescAt = (table: number, i: number, addr: number, len: number, flags: number, next = 0, addrHi?: number) => {
    const d = dv(table + 16 * i, 16);
    d.setUint32(0, addr % 2 ** 32, true);
    d.setUint32(4, addrHi ?? Math.floor(addr / 2 ** 32), true);
    d.setUint32(8, len, true);
    d.setUint16(12, flags, true);
    d.setUint16(14, next, true);
  };
  let availIdx = 0;
  const publish = (head: number) => {
    const a = dv(t.config.availAddr, 4 + 2 * 8);
    a.setUint16(4 + 2 * (availIdx % 8), head, true);
    availIdx++;
    a.setUint16(2, availIdx, true);
  };
  const buf = t.alloc.alloc(256, 16);
  const dev = new DeviceQueue(t.memory, { ...t.config, indirect: opts.indirect ?? true });
  return { t, dev, buf, publish, desc: (i: number, addr: number, len: number, flags: number, next = 0, hi?: number) => writeDescAt(t.config.descAddr, i, addr, len, flags, next, hi), writeDescAt, dv };
}

function expectBroken(dev: DeviceQueue, reason: VirtqueueErrorReason) {
  let first: unknown;
  try {
    dev.popAvailable();
  } catch (e) {
    first = e;
  }
  expect(first).toMatchObject({ name: 'VirtqueueError', reason, scope: 'queue' });
  // A broken queue fails fast with the same error object (like Linux BAD_RING).
  expect(dev.broken).toBe(first);
  expect(() => dev.popAvailable()).toThrow(first as Error);
  expect(() => dev.pushUsed(0, 0)).toThrow(first as Error);
}

describe('chain walk: valid chains', () => {
  it('walks readable then writable descriptors across NEXT links', () => {
    const r = rig();
    r.desc(3, r.buf, 16, NEXT, 5);
    r.desc(5, r.buf + 16, 32, NEXT | WRITE, 1);
    r.desc(1, r.buf + 48, 8, WRITE);
    r.publish(3);
    const c = r.dev.popAvailable()!;
    expect(c.head).toBe(3);
    expect(c.readable.map((v) => v.length)).toEqual([16]);
    expect(c.writable.map((v) => v.length)).toEqual([32, 8]);
    expect([c.readableBytes, c.writableBytes]).toEqual([16, 40]);
    expect(r.dev.popAvailable()).toBeNull();
  });
  it('follows an indirect table', () => {
    const r = rig();
    const table = r.t.alloc.alloc(48, 16);
    r.writeDescAt(table, 0, r.buf, 10, NEXT, 2);
    r.writeDescAt(table, 2, r.buf + 16, 20, WRITE);
    r.desc(0, table, 48, IND);
    r.publish(0);
    const c = r.dev.popAvailable()!;
    expect([c.readableBytes, c.writableBytes]).toEqual([10, 20]);
  });
});

describe('chain walk: each untrusted-input check has its own reason', () => {
  it('DESC_INDEX_OUT_OF_RANGE: head ≥ size (2.7.5)', () => {
    const r = rig();
    r.publish(8);
    expectBroken(r.dev, 'DESC_INDEX_OUT_OF_RANGE');
  });
  it('DESC_INDEX_OUT_OF_RANGE: next ≥ size (2.7.5)', () => {
    const r = rig();
    r.desc(0, r.buf, 4, NEXT, 9);
    r.publish(0);
    expectBroken(r.dev, 'DESC_INDEX_OUT_OF_RANGE');
  });
  it('DESC_INDEX_OUT_OF_RANGE: indirect next ≥ table entries (2.7.5.3)', () => {
    const r = rig();
    const table = r.t.alloc.alloc(32, 16);
    r.writeDescAt(table, 0, r.buf, 4, NEXT, 2);
    r.desc(0, table, 32, IND);
    r.publish(0);
    expectBroken(r.dev, 'DESC_INDEX_OUT_OF_RANGE');
  });
  it('CHAIN_TOO_LONG: a loop in the descriptor table ends (2.7.5.2)', () => {
    const r = rig();
    r.desc(0, r.buf, 4, NEXT, 1);
    r.desc(1, r.buf, 4, NEXT, 0);
    r.publish(0);
    expectBroken(r.dev, 'CHAIN_TOO_LONG');
  });
  it('CHAIN_TOO_LONG: a loop inside an indirect table ends (2.7.5.3.1)', () => {
    const r = rig();
    const table = r.t.alloc.alloc(32, 16);
    r.writeDescAt(table, 0, r.buf, 4, NEXT, 1);
    r.writeDescAt(table, 1, r.buf, 4, NEXT, 0);
    r.desc(0, table, 32, IND);
    r.publish(0);
    expectBroken(r.dev, 'CHAIN_TOO_LONG');
  });
  it('CHAIN_TOO_LONG: an indirect chain is cut at MAX_INDIRECT_CHAIN descriptors, whatever its table length', () => {
    const r = rig(); // queue size 8
    const entries = MAX_INDIRECT_CHAIN + 1;
    const table = r.t.alloc.alloc(16 * entries, 16);
    for (let i = 0; i < entries; i++) r.writeDescAt(table, i, r.buf, 4, i + 1 < entries ? NEXT : 0, i + 1);
    r.desc(0, table, 16 * entries, IND);
    r.publish(0);
    expectBroken(r.dev, 'CHAIN_TOO_LONG');
  });
  it('an indirect chain longer than the queue, up to MAX_INDIRECT_CHAIN, is valid (Linux builds them)', () => {
    const r = rig();
    const n = MAX_INDIRECT_CHAIN;
    const table = r.t.alloc.alloc(16 * n, 16);
    for (let i = 0; i < n; i++) r.writeDescAt(table, i, r.buf, 4, i + 1 < n ? NEXT : 0, i + 1);
    r.desc(0, table, 16 * n, IND);
    r.publish(0);
    expect(r.dev.popAvailable()?.readable.length).toBe(n);
  });
  it('INDIRECT_IN_INDIRECT (2.7.5.3.1)', () => {
    const r = rig();
    const table = r.t.alloc.alloc(16, 16);
    r.writeDescAt(table, 0, table, 16, IND);
    r.desc(0, table, 16, IND);
    r.publish(0);
    expectBroken(r.dev, 'INDIRECT_IN_INDIRECT');
  });
  it('INDIRECT_WITH_NEXT (2.7.5.3.1)', () => {
    const r = rig();
    const table = r.t.alloc.alloc(16, 16);
    r.writeDescAt(table, 0, r.buf, 4, 0);
    r.desc(0, table, 16, IND | NEXT, 1);
    r.publish(0);
    expectBroken(r.dev, 'INDIRECT_WITH_NEXT');
  });
  it('INDIRECT_BAD_LENGTH: zero length (2.7.5.3)', () => {
    const r = rig();
    r.desc(0, r.buf, 0, IND);
    r.publish(0);
    expectBroken(r.dev, 'INDIRECT_BAD_LENGTH');
  });
  it('INDIRECT_BAD_LENGTH: not a multiple of 16 (2.7.5.3)', () => {
    const r = rig();
    r.desc(0, r.buf, 24, IND);
    r.publish(0);
    expectBroken(r.dev, 'INDIRECT_BAD_LENGTH');
  });
  it('INDIRECT_NOT_NEGOTIATED (2.7.5.3.1)', () => {
    const r = rig({ indirect: false });
    r.desc(0, r.buf, 16, IND);
    r.publish(0);
    expectBroken(r.dev, 'INDIRECT_NOT_NEGOTIATED');
  });
  it('READABLE_AFTER_WRITABLE (2.7.4.2)', () => {
    const r = rig();
    r.desc(0, r.buf, 4, WRITE | NEXT, 1);
    r.desc(1, r.buf, 4, 0);
    r.publish(0);
    expectBroken(r.dev, 'READABLE_AFTER_WRITABLE');
  });
  it('ADDR_OUT_OF_RANGE: buffer crosses the end of guest memory', () => {
    const r = rig();
    const region = r.t.memory.regions[0]!;
    r.desc(0, region.end - 8, 16, 0);
    r.publish(0);
    expectBroken(r.dev, 'ADDR_OUT_OF_RANGE');
  });
  it('ADDR_OUT_OF_RANGE: address beyond 2^53', () => {
    const r = rig();
    r.desc(0, 0, 16, 0, 0, 0x0100_0000);
    r.publish(0);
    expectBroken(r.dev, 'ADDR_OUT_OF_RANGE');
  });
  it('ADDR_OUT_OF_RANGE: indirect table outside memory', () => {
    const r = rig();
    r.desc(0, 0x100, 16, IND);
    r.publish(0);
    expectBroken(r.dev, 'ADDR_OUT_OF_RANGE');
  });
  it('out-of-range messages name the offending descriptor (built only on failure)', () => {
    const r = rig();
    const region = r.t.memory.regions[0]!;
    r.desc(2, region.end - 8, 16, 0);
    r.publish(2);
    expect(() => r.dev.popAvailable()).toThrow(/^ADDR_OUT_OF_RANGE: desc 2: \[0x[0-9a-f]+, \+16\) is not inside one memory region$/);
    const r2 = rig();
    r2.desc(0, 0, 16, 0, 0, 0x0100_0000);
    r2.publish(0);
    expect(() => r2.dev.popAvailable()).toThrow('ADDR_OUT_OF_RANGE: desc 0: addr 0x100000000000000 is beyond every region');
  });
  it('ADDR_OVERFLOW: addr + len wraps 64 bits', () => {
    const r = rig();
    r.desc(0, 0xffff_fff0, 0x20, 0, 0, 0xffff_ffff);
    r.publish(0);
    expectBroken(r.dev, 'ADDR_OVERFLOW');
  });
  it('AVAIL_IDX_TOO_FAR: avail.idx more than size ahead (2.7.6)', () => {
    const r = rig();
    r.dv(r.t.config.availAddr, 4).setUint16(2, 9, true);
    expectBroken(r.dev, 'AVAIL_IDX_TOO_FAR');
  });
});
