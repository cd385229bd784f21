// Issue 11, items 10-12: unbounded growth and silent loss. A guest flooding the log, an API client
// that never reads, a paste into a guest that reads nothing: memory and disk stay bounded, and
// no byte is dropped without the writer being paused.
import { createConnection } from 'node:net';
import { statSync } from 'node:fs';
import { describe, it } from 'vitest';
import { connectGuest } from '@vtcon/console/testing';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, HostileFrontend, PORT_OPEN, within,
} from './hostile-frontend.js';
import { TARGET, mib, rigPerTest, sleep, verdict, type Rig } from './rig.js';

const rigs = rigPerTest();
const MiB = 1 << 20;
const logSize = (rig: Rig) => { try { return statSync(rig.daemonLog).size; } catch { return 0; } };

async function target(rig: Rig): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET));
  rigs.defer(() => h.close());
  return h;
}

/** The TARGET guest through PORT_READY of port 1 (control queues, port 1's queues, DEVICE_READY). */
async function portReady(rig: Rig): Promise<HostileFrontend> {
  const h = await target(rig);
  await h.portReady();
  return h;
}

describe('item 10: a guest flooding unknown control events', () => {
  it('the daemon log grows by a bounded amount (rate-limited per VM)', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ);
    const before = logSize(rig);
    const until = Date.now() + 2000;
    let sent = 0;
    while (Date.now() < until) {
      for (let i = 0; i < 32; i++) if (h.sendControl(i, 0x7777, 0)) sent++;
      await new Promise((r) => setImmediate(r));
    }
    await sleep(500);
    const grown = logSize(rig) - before;
    if (grown > MiB) problems.push(`the daemon log grew ${mib(grown)} for ${sent} unknown control events in 2 s`);
    h.close();
    await verdict(rig, 'item 10', problems);
  });
});

describe('item 11: a control API stream client that never reads', () => {
  it('logs.follow on a busy port: the daemon ends the slow consumer, its memory stays flat', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    // The reader that never reads: a follow request, then the socket is never read again.
    const s = createConnection(rig.control);
    rigs.defer(() => s.destroy());
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.write(JSON.stringify({ id: 1, method: 'logs.follow', params: { vm: TARGET, port: 'org.test.a' } }) + '\n');
    s.pause();
    // A busy guest on the target: 40 MiB through port org.test.a.
    const { driver } = await connectGuest(rig.socketOf(TARGET), { txChunk: 65536, txInflight: 4, pollTimeoutMs: 3000 });
    rigs.defer(() => driver.detach());
    const port = (await within(3000, 'port org.test.a', (async () => { for (;;) { const p = driver.portByName('org.test.a'); if (p) return p; await sleep(20); } })()));
    await port.open();
    const mb = Buffer.alloc(MiB, 0x62);
    try { await within(15_000, 'the busy guest', (async () => { for (let i = 0; i < 40; i++) await port.write(mb); })()); }
    catch (e) { problems.push(`the busy guest did not get its 40 MiB out: ${(e as Error).message}`); }
    await sleep(500);
    const peak = rig.sample().rss;
    if (peak > rig.baseline.rss + 64 * MiB) problems.push(`daemon RSS ${mib(rig.baseline.rss)} → ${mib(peak)} with a follower that never reads`);
    await driver.detach();
    // The follower stays connected (and unread) through the verdict: only the daemon can end it.
    await verdict(rig, 'item 11', problems);
    s.destroy();
  });
});

describe('item 12: pasting 4 MiB into the attach socket of a guest that reads nothing', () => {
  it('every byte is kept or the writer paused; none dropped', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await portReady(rig);
    h.sendControl(1, PORT_OPEN, 1); // open, but no receive buffer is ever posted on port 1
    await sleep(200);
    const info = await rig.api<{ path: string }>('attach.info', { vm: TARGET, port: 'org.test.a' });
    const s = createConnection(info.path);
    rigs.defer(() => s.destroy());
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.on('data', () => undefined);
    const paste = Buffer.alloc(4 * MiB, 0x63);
    s.write(paste);
    await sleep(3000);
    const ls = await rig.api<{ vms: { name: string; ports: { name: string; dropped: number; backlog: number }[] }[] }>('ls');
    const p = ls.vms.find((v) => v.name === TARGET)?.ports.find((x) => x.name === 'org.test.a');
    const inFlight = s.writableLength;
    if (!p) problems.push('port org.test.a not in ls');
    else if (p.dropped !== 0) problems.push(`${p.dropped} dropped (backlog ${p.backlog}, ${inFlight} bytes still with the writer)`);
    s.destroy();
    h.close();
    await verdict(rig, 'item 12', problems);
  });
});

describe('a guest toggling PORT_OPEN as fast as it can', () => {
  it('changes its state thousands of times a second: the engine is not restarted, the others are served, the daemon log stays small', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await portReady(rig);
    // Every toggle is a new guest state the engine hands to the holder before the chain is used.
    // Before the link kept one queued state per VM, this ended the link (the holder took it for
    // an engine death) within the first second: a take-over for every VM, then a crash loop.
    const before = logSize(rig);
    const until = Date.now() + 3000;
    let sent = 0;
    while (Date.now() < until) {
      for (let i = 0; i < 32; i++) if (h.sendControl(1, PORT_OPEN, sent & 1)) sent++;
      await new Promise((r) => setImmediate(r));
    }
    await sleep(500);
    const grown = logSize(rig) - before;
    if (sent < 1000) problems.push(`only ${sent} PORT_OPEN toggles went out in 3 s: the attack did not happen`);
    if (grown > MiB) problems.push(`the daemon log grew ${mib(grown)} for ${sent} PORT_OPEN toggles in 3 s`);
    h.close();
    await verdict(rig, 'PORT_OPEN flood', problems);
  });
});
