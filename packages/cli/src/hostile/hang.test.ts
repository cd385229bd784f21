// Issue 11, items 6-9: hangs and starvation. A blocking fd, a worker that cannot start, a worker
// that cannot stop, a giant control line: none may stall `ls` or the victim for a second.
import { createConnection } from 'node:net';
import { openSync, readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, fullBlockingEventfd, fullBlockingPipe, refusal,
} from './hostile-frontend.js';
import { TARGET, logLines, rigPerTest, sleep, verdict, waitForLogLine, waitUntil, type Rig } from './rig.js';

const rigs = rigPerTest();

async function target(rig: Rig): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET));
  rigs.defer(() => h.close());
  return h;
}

/** Numbered bytes on the target's port 1 transmitq (one chain), published and kicked. */
function transmit(h: HostileFrontend, text: string): void {
  const at = h.alloc(4096);
  h.write(at, Buffer.from(text));
  h.post(PORT1_TRANSMITQ, [{ addr: at, len: text.length }]);
  h.queues.get(PORT1_TRANSMITQ)!.kick();
}

const badFdLines = (rig: Rig) => logLines(rig, (l) => l.vm === TARGET && JSON.stringify(l).includes('BAD_FD_TYPE')).length;

function logHas(rig: Rig, text: string): boolean {
  try { return readFileSync(rig.logOf(TARGET, 'org.test.a'), 'utf8').includes(text); } catch { return false; }
}

describe('item 6: a call fd a write(2) would block on', () => {
  it('a full pipe is refused at SET_VRING_CALL (BAD_FD_TYPE); a full blocking eventfd is made non-blocking: nobody else waits while the attacker holds it', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    for (const [where, queue] of [['control receiveq (main thread)', CONTROL_RECEIVEQ], ['port transmitq (a worker)', PORT1_TRANSMITQ]] as const) {
      // A pipe: never an eventfd, refused before anything writes it.
      const pipe = fullBlockingPipe(rig.dir);
      rigs.defer(() => pipe.close());
      const seen = badFdLines(rig);
      const h = await target(rig);
      await h.queue(CONTROL_TRANSMITQ);
      if (queue === PORT1_TRANSMITQ) { await h.queue(CONTROL_RECEIVEQ); await h.queue(PORT1_RECEIVEQ); }
      const why = await refusal(h.queue(queue, { call: pipe.fd }));
      if (why === null || !/REPLY_FAILED/.test(why)) problems.push(`${where}: a pipe as call fd was not refused (${why ?? 'accepted'})`);
      if (!(await waitUntil(() => badFdLines(rig) > seen))) problems.push(`${where}: no BAD_FD_TYPE line about the target VM`);
      h.close();
      pipe.close();

      // The path behind the check: an eventfd, blocking and full. Were it written as it came, the
      // thread signalling it would block until the attacker reads it.
      const full = fullBlockingEventfd();
      rigs.defer(() => full.close());
      const g = await target(rig);
      await g.queue(CONTROL_TRANSMITQ);
      if (queue === CONTROL_RECEIVEQ) {
        await g.queue(CONTROL_RECEIVEQ, { call: full.fd });
        g.postControlBuffers(16);
        g.sendControl(0xffffffff, DEVICE_READY, 1); // the device answers on the receiveq, then signals it
      } else {
        await g.queue(CONTROL_RECEIVEQ);
        await g.queue(PORT1_RECEIVEQ);
        await g.queue(PORT1_TRANSMITQ, { call: full.fd });
        transmit(g, 'signal me on a full eventfd\n');
      }
      if (!(await waitUntil(() => g.queues.get(queue)!.reclaim() > 0))) problems.push(`${where}: the queue behind a full call eventfd was never served`);
      await sleep(1500); // the attacker holds the counter full: the victim streams on meanwhile (verdict)
      if (queue === PORT1_TRANSMITQ) {
        transmit(g, 'still served on a full eventfd\n');
        if (!(await waitUntil(() => logHas(rig, 'still served on a full eventfd')))) problems.push(`${where}: the queue stopped after signalling a full eventfd`);
      }
      full.drain();
      g.close();
      full.close();
    }
    await verdict(rig, 'item 6', problems);
  });
});

describe('item 7: a port queue whose worker start fails', () => {
  it.each([
    { bad: 'a descriptor table misaligned by 2 bytes', spec: { descShift: 2 } },
    { bad: '/dev/null as kick fd', spec: 'devnull' as const },
  ])('$bad: the queue is broken once, no restart storm', async ({ spec }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ);
    await h.queue(PORT1_RECEIVEQ);
    try {
      await h.queue(PORT1_TRANSMITQ, spec === 'devnull' ? { kick: h.own(openSync('/dev/null', 'r')) } : spec);
    } catch { /* refused at the request: fine */ }
    await sleep(2000);
    const stats = await rig.api<{ workers: { restarts: number }[] }>('stats', {}, 2000).catch(() => null);
    const restarts = stats?.workers.reduce((n, w) => n + w.restarts, 0) ?? -1;
    if (restarts > 3) problems.push(`${restarts} worker restarts in 2 s`);
    if (!(await waitForLogLine(rig, TARGET))) problems.push('no warn/error line about the target VM (its broken queue)');
    h.close();
    await verdict(rig, `item 7: ${JSON.stringify(spec)}`, problems);
  });
});

describe('item 8: a worker queue stop while its call fd is full', () => {
  it('the VM disconnects with a full blocking eventfd as a port call fd: it reconnects and its port works', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const full = fullBlockingEventfd();
    rigs.defer(() => full.close());
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ);
    await h.queue(PORT1_RECEIVEQ);
    await h.queue(PORT1_TRANSMITQ, { call: full.fd });
    transmit(h, 'signal a full eventfd\n');
    await sleep(300);
    h.close(); // the daemon stops the queue on the worker that signals it
    await sleep(500);
    full.drain();
    // A well-behaved front-end on the same VM: its port 1 bytes must reach the port's log.
    try {
      const again = await target(rig);
      for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await again.queue(q);
      transmit(again, 'after the reconnect\n');
      if (!(await waitUntil(() => logHas(rig, 'after the reconnect')))) problems.push('the reconnected port\'s bytes never reached its log');
      again.close();
    } catch (e) { problems.push(`the target VM does not work after the stop: ${(e as Error).message}`); }
    await verdict(rig, 'item 8', problems);
  });
});

describe('item 9: a 16 MiB control API line', () => {
  it('is refused without blocking the API', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const s = createConnection(rig.control);
    rigs.defer(() => s.destroy());
    const closed = new Promise<boolean>((r) => { s.on('close', () => r(true)); s.on('error', () => undefined); });
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 17 && !s.destroyed; i++) { s.write(chunk); await sleep(20); }
    if (!(await Promise.race([closed, sleep(5000).then(() => false)]))) problems.push('the daemon kept a connection that sent a 17 MiB line');
    s.destroy();
    await verdict(rig, 'item 9', problems);
  });
});
