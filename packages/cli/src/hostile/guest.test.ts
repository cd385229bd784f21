// The hostile guest: rings and control messages a guest writes to make the device work for
// nothing (one chain through a whole 32768-entry ring, named by every avail slot) or to make it
// say things forever. Each attacks the TARGET VM while the victim streams; the verdict checks that
// the daemon lives, `ls` answers in < 1 s, the victim's log is byte-exact with no stall, and
// fds/RSS come back.
import { createConnection } from 'node:net';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, PORT_OPEN, PORT_READY, within,
} from './hostile-frontend.js';
import { TARGET, rigPerTest, sleep, verdict, waitUntil, type Rig } from './rig.js';

const rigs = rigPerTest();
const BIG = 32768;

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

describe('host→guest input in tiny pieces, released by the guest at once', () => {
  it.each([
    { opened: 'has not opened; then it opens it', openFirst: false },
    { opened: 'opened and posts no buffer to; then it posts one', openFirst: true },
  ])('150k one-byte attach frames wait for a port the guest $opened', async ({ openFirst }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await h.queue(q);
    h.postControlBuffers(32);
    h.sendControl(0xffffffff, DEVICE_READY, 1);
    await sleep(100);
    h.sendControl(1, PORT_READY, 1);
    if (openFirst) h.sendControl(1, PORT_OPEN, 1);
    await sleep(100);
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
