// The hostile guest: rings and control messages a guest writes to make the device work for
// nothing (one chain through a whole 32768-entry ring, named by every avail slot) or to make it
// say things forever. Each attacks the TARGET VM while the victim streams; the verdict checks that
// the daemon lives, `ls` answers in < 1 s, the victim's log is byte-exact with no stall, and
// fds/RSS come back.
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, PORT_OPEN, PORT_READY, within, type HostileQueue,
} from './hostile-frontend.js';
import { TARGET, rigPerTest, sleep, verdict, waitUntil, type Rig } from './rig.js';

const rigs = rigPerTest();
const BIG = 32768;
const MiB = 1 << 20;

async function target(rig: Rig): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET));
  rigs.defer(() => h.close());
  return h;
}

/** Sends `n` control messages from the guest, as fast as the control transmitq takes them. */
async function sendControlMany(h: HostileFrontend, n: number, id: number, event: number, value: number): Promise<number> {
  let sent = 0;
  const until = Date.now() + 5000;
  while (sent < n && Date.now() < until) {
    for (let i = 0; i < 32 && sent < n; i++) if (h.sendControl(id, event, value)) sent++;
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

describe('one chain through a whole ring, named by every avail slot (size × size descriptors a kick)', () => {
  it('on the control queues (main thread): the receiveq while ~4000 control messages wait, then the transmitq', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    await h.queue(CONTROL_TRANSMITQ);
    // Two DEVICE_ADDs (the target has two ports) per DEVICE_READY wait for control buffers.
    const sent = await sendControlMany(h, 2000, 0xffffffff, DEVICE_READY, 1);
    if (sent < 2000) problems.push(`only ${sent} DEVICE_READY went out`);
    await sleep(300);
    await h.queue(CONTROL_RECEIVEQ, { size: BIG });
    h.amplify(CONTROL_RECEIVEQ, { writable: true, len: 0 });
    await sleep(2000);
    h.close();
    const g = await target(rig);
    await g.queue(CONTROL_RECEIVEQ);
    await g.queue(CONTROL_TRANSMITQ, { size: BIG });
    g.amplify(CONTROL_TRANSMITQ, { writable: false, len: 0 });
    await sleep(1500);
    g.close();
    await verdict(rig, 'amplified control queues', problems);
  });

  it('on a port receiveq while host bytes wait and its transmitq (a worker, shard-mate of the victim)', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ);
    await h.queue(PORT1_RECEIVEQ, { size: BIG });
    await h.queue(PORT1_TRANSMITQ, { size: BIG });
    h.postControlBuffers(32);
    h.sendControl(0xffffffff, DEVICE_READY, 1);
    await sleep(100);
    h.sendControl(1, PORT_READY, 1);
    h.sendControl(1, PORT_OPEN, 1);
    await sleep(100);
    h.amplify(PORT1_RECEIVEQ, { writable: true, len: 0 });
    await rig.api('send', { vm: TARGET, port: 'org.test.a', data: Buffer.from('hello\n').toString('base64') });
    h.amplify(PORT1_TRANSMITQ, { writable: false, len: 0 });
    await sleep(2500);
    h.close();
    await verdict(rig, 'amplified port queues', problems);
  });
});

/** A descriptor as 16 bytes (virtio 1.2 §2.7.5). */
function desc(addr: number, len: number, flags: number, next = 0): Uint8Array {
  const d = new DataView(new ArrayBuffer(16));
  d.setBigUint64(0, BigInt(addr), true);
  d.setUint32(8, len >>> 0, true);
  d.setUint16(12, flags, true);
  d.setUint16(14, next, true);
  return new Uint8Array(d.buffer);
}

const u16 = (h: HostileFrontend, at: number) => { const v = h.fe.memory!.view(at, 2); return v[0]! | (v[1]! << 8); };
const setU16 = (h: HostileFrontend, at: number, x: number) => { const v = h.fe.memory!.view(at, 2); v[0] = x & 0xff; v[1] = (x >> 8) & 0xff; };

describe('malformed rings, each on a fresh connection, on both threads', () => {
  // Each writes descriptor 0 and 1 and the avail ring by hand (a 64-entry ring, nothing published
  // before) and publishes avail.idx; the device must break that queue without using anything.
  const NEXT = 1, WRITE = 2, INDIRECT = 4;
  const bad: { name: string; ring(h: HostileFrontend, q: HostileQueue, buf: number): number }[] = [
    { name: 'a head ≥ the queue size', ring: (h, q) => { setU16(h, q.availAddr + 4, 200); return 1; } },
    { name: 'avail.idx size + 1 ahead', ring: () => 65 },
    { name: 'avail.idx gone backwards', ring: () => 0xffff },
    { name: 'a descriptor loop (0 → 1 → 0)', ring: (h, q, buf) => { h.write(q.descAddr, desc(buf, 8, NEXT, 1)); h.write(q.descAddr + 16, desc(buf, 8, NEXT, 0)); return 1; } },
    { name: 'INDIRECT, not negotiated', ring: (h, q, buf) => { h.write(q.descAddr, desc(buf, 16, INDIRECT)); return 1; } },
    { name: 'a buffer past the end of memory', ring: (h, q) => { h.write(q.descAddr, desc(16 * MiB - 8, 64, 0)); return 1; } },
    { name: 'len 0xFFFFFFFF', ring: (h, q, buf) => { h.write(q.descAddr, desc(buf, 0xffffffff, 0)); return 1; } },
    { name: 'readable after writable', ring: (h, q, buf) => { h.write(q.descAddr, desc(buf, 8, WRITE | NEXT, 1)); h.write(q.descAddr + 16, desc(buf, 8, 0)); return 1; } },
  ];

  it(`${bad.length} corruptions on the control transmitq and on a port transmitq: that queue stops, nothing is used, the VM works after`, async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    for (const index of [CONTROL_TRANSMITQ, PORT1_TRANSMITQ]) {
      for (const b of bad) {
        const h = await target(rig);
        const q = await h.queue(index);
        const buf = h.alloc(4096);
        setU16(h, q.availAddr + 2, b.ring(h, q, buf));
        q.ring();
        await sleep(100);
        if (u16(h, q.usedAddr + 2) !== 0) problems.push(`queue ${index}, ${b.name}: the device used something`);
        h.close();
      }
    }
    // The target VM after all of it: a well-formed front-end's port bytes reach the port's log.
    const h = await target(rig);
    for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await h.queue(q);
    const at = h.alloc(4096);
    h.write(at, Buffer.from('after the corruptions\n'));
    h.post(PORT1_TRANSMITQ, [{ addr: at, len: 22 }]);
    h.queues.get(PORT1_TRANSMITQ)!.kick();
    if (!(await waitUntil(() => { try { return readFileSync(rig.logOf(TARGET, 'org.test.a'), 'utf8').includes('after the corruptions'); } catch { return false; } }))) {
      problems.push('the target VM\'s port did not work after the corruptions');
    }
    h.close();
    await verdict(rig, 'malformed rings', problems);
  });
});

describe('host→guest input in tiny pieces, released by the guest at once', () => {
  it.each([
    { opened: 'has not opened; then it opens it', openFirst: false },
    { opened: 'opened and posts no buffer to; then it posts one', openFirst: true },
  ])('150k one-byte attach frames wait for a port the guest $opened', async ({ openFirst }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    await h.portReady({ open: openFirst });
    const info = await rig.api<{ path: string }>('attach.info', { vm: TARGET, port: 'org.test.a' });
    const s = createConnection(info.path);
    rigs.defer(() => s.destroy());
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    let answer = '';
    const ok = new Promise<void>((r) => s.on('data', (d: Buffer) => { if (!answer.includes('\n')) { answer += d.toString('latin1'); if (answer.includes('\n')) r(); } }));
    s.write(`VTCON-ATTACH ${JSON.stringify({ role: 'writer', name: 'tiny-frames' })}\n`);
    await within(3000, 'the attach handshake', ok);
    if (!answer.startsWith('VTCON-OK')) problems.push(`attach refused: ${answer.trim()}`);
    // Each DATA frame is one push into the port's backlog: 150k chunks of one byte.
    const N = 150_000;
    const frames = Buffer.alloc(N * 6);
    for (let i = 0; i < N; i++) { frames[i * 6 + 4] = 1; frames[i * 6 + 5] = 0x61 + (i % 26); }
    s.write(frames);
    const backlog = async () => (await rig.api<{ vms: { name: string; ports: { name: string; backlog: number }[] }[] }>('ls')).vms
      .find((v) => v.name === TARGET)?.ports.find((p) => p.name === 'org.test.a')?.backlog ?? -1;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await backlog()) < N) await sleep(100);
    if ((await backlog()) !== N) problems.push(`the backlog holds ${await backlog()} bytes, not the ${N} sent`);
    // Room for all of it at once (and the port opened, if it was not).
    const buf = h.alloc(N);
    h.queues.get(PORT1_RECEIVEQ)!.driver.addBuffer(buf, N, true, null);
    h.queues.get(PORT1_RECEIVEQ)!.kick();
    if (!openFirst) h.sendControl(1, PORT_OPEN, 1);
    if (!(await waitUntil(() => h.queues.get(PORT1_RECEIVEQ)!.reclaim() > 0, 5000))) problems.push('the guest never got the bytes');
    s.destroy();
    h.close();
    await verdict(rig, 'tiny attach frames', problems);
  });
});
