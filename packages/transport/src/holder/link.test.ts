/**
 * The holder link over a real SOCK_SEQPACKET socketpair. A guest may change its state (PORT_OPEN
 * on and off) faster than the holder reads: the engine's queue must hold one state record per VM,
 * not one per change, or one guest could fill the link every VM's engine shares.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HolderLink, type LinkRecord } from './link.js';
import * as native from '../native.js';
import type { VhostUserError } from '../errors.js';

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

function pair() {
  const [a, b] = native.socketPair('seqpacket');
  const received: LinkRecord[] = [];
  let closedWith: VhostUserError | null | undefined;
  const engine = new HolderLink(a, { onRecord: () => undefined, onClose: (e) => { closedWith = e; } });
  let holder: HolderLink | null = null;
  /** The holder end starts reading only when asked: until then the engine's records queue. */
  const startReading = () => { holder = new HolderLink(b, { onRecord: (r) => received.push(r), onClose: () => undefined }); };
  cleanups.push(() => { engine.close(); if (holder) holder.close(); else native.close(b); });
  return { engine, received, startReading, closed: () => closedWith };
}

const until = async (f: () => boolean) => {
  const end = Date.now() + 10_000;
  while (!f()) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 5)); }
};

describe('HolderLink', () => {
  it('keeps only the newest queued state record of each VM, after the records queued before it', async () => {
    const { engine, received, startReading, closed } = pair();
    engine.send({ op: 'hello', stateVersion: 1 });
    // 20,000 state changes of two VMs with a drop between: far past the queue's record bound.
    for (let i = 0; i < 10_000; i++) {
      engine.sendLatest('state:a', { op: 'state', vm: 'a', state: { n: i, pad: 'x'.repeat(200) } });
      engine.sendLatest('state:b', { op: 'state', vm: 'b', state: { n: i, pad: 'y'.repeat(200) } });
      if (i === 5000) engine.send({ op: 'drop', vm: 'a', conn: 1 });
    }
    expect(closed()).toBeUndefined();
    expect(engine.queuedRecords).toBeLessThan(10);
    startReading();
    await until(() => received.at(-1)?.op === 'state' && received.filter((r) => r.op === 'state' && (r.state as { n: number }).n === 9999).length === 2);
    // Whatever went out before the socket filled arrives in order; the drop precedes the last states.
    const ns = (vm: string) => received.filter((r) => r.vm === vm && r.op === 'state').map((r) => (r.state as { n: number }).n);
    for (const vm of ['a', 'b']) expect(ns(vm)).toEqual([...ns(vm)].sort((x, y) => x - y));
    const drop = received.findIndex((r) => r.op === 'drop');
    expect(drop).toBeGreaterThan(0);
    expect(received.slice(drop + 1).some((r) => r.vm === 'a' && (r.state as { n: number }).n === 9999)).toBe(true);
  });

  it('still bounds records that do not supersede each other', () => {
    const { engine, closed } = pair();
    for (let i = 0; i < 5000 && closed() === undefined; i++) engine.send({ op: 'drop', vm: 'a', conn: i });
    expect(closed()?.message).toMatch(/not reading/);
  });
});
