// Hostile local clients: the programs that connect to the daemon's control socket and attach
// sockets (scripts, conserver, a buggy client). However many connections they open and however
// they behave, the VMs' consoles, the daemon and QEMU's reconnect path go on.
import { appendFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, PORT_OPEN, PORT_READY,
} from './hostile-frontend.js';
import { BYSTANDER, TARGET, VICTIM, VICTIM_PORT, rigPerTest, sleep, verdict, type Rig } from './rig.js';

const rigs = rigPerTest();
const PORTS = [[VICTIM, 'console'], [VICTIM, VICTIM_PORT], [TARGET, 'console'], [TARGET, 'org.test.a'], [BYSTANDER, 'console']] as const;

/** A connected socket, or null when the connect failed. */
function open(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(null));
  });
}

/** Opens `n` connections to `path` that say nothing and read nothing; closed by the rig's cleanup. */
async function flood(path: string, n: number): Promise<Socket[]> {
  const socks: Socket[] = [];
  rigs.defer(() => { for (const s of socks) s.destroy(); });
  for (let i = 0; i < n; i++) {
    const s = await open(path);
    if (!s) continue;
    s.on('error', () => undefined);
    s.pause();
    socks.push(s);
  }
  return socks;
}

const attachPath = async (rig: Rig, vm: string, port: string) => (await rig.api<{ path: string }>('attach.info', { vm, port })).path;

describe('a client flood past the fd limit', () => {
  it('700 idle control connections and 100 raw clients on every attach socket: the daemon keeps fds for the VMs (a VM reconnects), `ls` gets in', async () => {
    const rig = await rigs.start({ nofile: 512 });
    const problems: string[] = [];
    const paths = await Promise.all(PORTS.map(([vm, port]) => attachPath(rig, vm, port)));
    const held: Socket[] = [];
    held.push(...await flood(rig.control, 700));
    for (const p of paths) held.push(...await flood(p, 100));
    await sleep(500);
    const fds = rig.sample().fds;
    if (fds > 400) problems.push(`the daemon holds ${fds} fds of its 512 after the flood`);
    try {
      const h = await HostileFrontend.connect(rig.socketOf(TARGET));
      rigs.defer(() => h.close());
      for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await h.queue(q);
      h.close();
    } catch (e) { problems.push(`the target VM could not connect during the flood: ${(e as Error).message}`); }
    const ls = await rig.api('ls', {}, 1000).then(() => null, (e: Error) => e.message);
    if (ls) problems.push(`ls during the flood: ${ls}`);
    for (const s of held) s.destroy();
    await verdict(rig, 'client flood', problems);
  });
});

describe('a `logs --all` on a port with a big history', () => {
  it('160 MiB of log files: the reply is bounded (the older bytes are counted, not sent), the daemon neither blocks nor grows', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const MiB = 1 << 20;
    const piece = Buffer.alloc(4 * MiB, 0x41);
    // Written off the event loop: the victim streams from this process.
    for (let i = 0; i < 40; i++) await appendFile(rig.logOf(TARGET, 'org.test.a'), piece);
    const r = await rig.api<{ data: string; omitted?: number }>('logs', { vm: TARGET, port: 'org.test.a', files: true }, 10_000)
      .catch((e: Error) => { problems.push(`logs --all: ${e.message}`); return null; });
    if (r) {
      const bytes = Buffer.from(r.data, 'base64').length;
      if (bytes > 4 * MiB || bytes + (r.omitted ?? 0) !== 160 * MiB) problems.push(`reply of ${bytes} bytes, ${r.omitted} omitted, for 160 MiB of history`);
    }
    await verdict(rig, 'logs --all, 160 MiB', problems);
  });
});

describe('pipelined `send --wait` requests to a guest that reads nothing', () => {
  it('1000 on one connection, then gone; 20000 on another: work in progress is bounded, the waits end with their client, the flood is refused', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    // The target guest opens port 1 and never posts a receive buffer: no send is ever delivered.
    const h = await HostileFrontend.connect(rig.socketOf(TARGET));
    rigs.defer(() => h.close());
    for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await h.queue(q);
    h.postControlBuffers(32);
    h.sendControl(0xffffffff, DEVICE_READY, 1);
    await sleep(100);
    h.sendControl(1, PORT_READY, 1);
    await sleep(100);
    h.sendControl(1, PORT_OPEN, 1);
    await sleep(200);
    const sends = (n: number) => Array.from({ length: n }, (_, id) => JSON.stringify({
      id, method: 'send', params: { vm: TARGET, port: 'org.test.a', data: 'eA==', wait: true, timeoutMs: 3_600_000 },
    }) + '\n').join('');
    const pipeline = async (n: number) => {
      const s = (await open(rig.control))!;
      rigs.defer(() => s.destroy());
      let out = '';
      s.setEncoding('utf8').on('data', (d: string) => (out += d));
      s.on('error', () => undefined);
      s.write(sends(n));
      return { s, out: () => out };
    };
    const waiting = await pipeline(1000);
    await sleep(1500);
    waiting.s.destroy(); // its 16 waits in progress end with it
    const flood = await pipeline(20_000);
    await Promise.race([new Promise((r) => flood.s.once('close', r)), sleep(5000)]);
    if (!/TOO_MANY_REQUESTS/.test(flood.out())) problems.push(`20000 pipelined waits: ${flood.out().slice(0, 200) || 'no answer'}`);
    h.close();
    await verdict(rig, 'pipelined send --wait', problems);
  });
});
