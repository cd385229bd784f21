// Issue 11, items 6-9: hangs and starvation. A blocking fd, a worker that cannot start, a worker
// that cannot stop, a giant control line: none may stall `ls` or the victim for a second.
import { createConnection } from 'node:net';
import { openSync, readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, fullBlockingPipe, within,
} from './hostile-frontend.js';
import { TARGET, rigPerTest, sleep, verdict, waitForLogLine, type Rig } from './rig.js';

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

function logHas(rig: Rig, text: string): boolean {
  try { return readFileSync(rig.logOf(TARGET, 'org.test.a'), 'utf8').includes(text); } catch { return false; }
}

describe('item 6: a full blocking pipe as call fd', () => {
  it.each([
    { where: 'control receiveq (main thread)', queue: CONTROL_RECEIVEQ },
    { where: 'port transmitq (a worker)', queue: PORT1_TRANSMITQ },
  ])('on the $where: nobody else waits while the attacker holds it', async ({ queue }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const pipe = fullBlockingPipe(rig.dir);
    rigs.defer(() => pipe.close());
    const h = await target(rig);
    await h.queue(CONTROL_TRANSMITQ);
    if (queue === CONTROL_RECEIVEQ) {
      await h.queue(CONTROL_RECEIVEQ, { call: pipe.fd });
      h.postControlBuffers(16);
      h.sendControl(0xffffffff, DEVICE_READY, 1); // the device answers on the receiveq, then signals it
    } else {
      await h.queue(CONTROL_RECEIVEQ);
      await h.queue(PORT1_RECEIVEQ);
      await h.queue(PORT1_TRANSMITQ, { call: pipe.fd });
      transmit(h, 'signal me on a full pipe\n');
    }
    await sleep(2500); // the attacker holds the pipe full
    pipe.drain();
    h.close();
    if (!(await waitForLogLine(rig, TARGET))) problems.push('no warn/error line about the target VM (a call fd that is not an eventfd)');
    await verdict(rig, `item 6: ${queue}`, problems);
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

describe('item 8: a worker queue stop that times out', () => {
  it('a worker blocked on a call fd when its VM disconnects: the VM reconnects and its port works', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const pipe = fullBlockingPipe(rig.dir);
    rigs.defer(() => pipe.close());
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ);
    await h.queue(PORT1_RECEIVEQ);
    await h.queue(PORT1_TRANSMITQ, { call: pipe.fd });
    transmit(h, 'block the worker\n');
    await sleep(300);
    h.close(); // the daemon stops the queue: the worker cannot answer while it is blocked
    await sleep(2500);
    pipe.drain();
    // A well-behaved front-end on the same VM: its port 1 bytes must reach the port's log.
    try {
      const again = await target(rig);
      for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await again.queue(q);
      transmit(again, 'after the reconnect\n');
      await within(3000, 'the reconnected port', (async () => {
        while (!logHas(rig, 'after the reconnect')) await sleep(50);
      })());
      again.close();
    } catch (e) { problems.push(`the target VM does not work after the stop timed out: ${(e as Error).message}`); }
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
