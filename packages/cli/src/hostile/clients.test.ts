// Hostile local clients: the programs that connect to the daemon's control socket and attach
// sockets (scripts, conserver, a buggy client). However many connections they open and however
// they behave, the VMs' consoles, the daemon and QEMU's reconnect path go on.
import { appendFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { describe, it } from 'vitest';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, PORT_OPEN,
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
  it('200 on one connection, then gone; 5000 on another: work in progress is bounded, the waits end with their client, the flood is refused', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    // The target guest opens port 1 and never posts a receive buffer: no send is ever delivered.
    const h = await HostileFrontend.connect(rig.socketOf(TARGET));
    rigs.defer(() => h.close());
    await h.portReady();
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
    const waiting = await pipeline(200);
    await sleep(1500);
    waiting.s.destroy(); // its 16 waits in progress end with it
    const flood = await pipeline(5000);
    await Promise.race([new Promise((r) => flood.s.once('close', r)), sleep(5000)]);
    if (!/TOO_MANY_REQUESTS/.test(flood.out())) problems.push(`5000 pipelined waits: ${flood.out().slice(0, 200) || 'no answer'}`);
    h.close();
    await verdict(rig, 'pipelined send --wait', problems);
  });
});

/** Writes `bytes` on a fresh connection to `path` and collects what comes back until it closes or `ms` pass. */
async function exchange(path: string, bytes: Buffer | string, ms = 1000, halfClose = false): Promise<{ out: string; closed: boolean }> {
  const s = (await open(path))!;
  rigs.defer(() => s.destroy());
  let out = '';
  let closed = false;
  s.setEncoding('latin1').on('data', (d: string) => { if (out.length < 4096) out += d; });
  s.on('error', () => undefined);
  s.on('close', () => (closed = true));
  s.write(bytes);
  if (halfClose) s.end();
  const deadline = Date.now() + ms;
  while (!closed && Date.now() < deadline) await sleep(20);
  s.destroy();
  return { out, closed };
}

const frame = (type: number, len: number, payload = Buffer.alloc(0)) => {
  const b = Buffer.alloc(5);
  b[0] = type;
  b.writeUInt32BE(len >>> 0, 1);
  return Buffer.concat([b, payload]);
};
const hello = (o: object) => `VTCON-ATTACH ${JSON.stringify(o)}\n`;

describe('malformed attach and control API input (each is refused for its own connection only)', () => {
  it('handshakes, offsets, frames, JSON: each gets its refusal, nothing else moves', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const attach = await attachPath(rig, TARGET, 'org.test.a');
    const refused = /^VTCON-ERR /;
    const probes: { what: string; path: string; send: Buffer | string; expect: (r: { out: string; closed: boolean }) => boolean; halfClose?: boolean }[] = [
      { what: 'a handshake that is not JSON', path: attach, send: 'VTCON-ATTACH {nope\n', expect: (r) => refused.test(r.out) },
      { what: 'a 100 KiB handshake line without LF', path: attach, send: `VTCON-ATTACH {"role":"${'w'.repeat(100 * 1024)}`, expect: (r) => refused.test(r.out) },
      ...[-1, 'NaN', 2 ** 64, 1.5].map((from) => ({ what: `from ${String(from)}`, path: attach, send: `VTCON-ATTACH {"role":"spectator","from":${String(from)}}\n`, expect: (r: { out: string }) => refused.test(r.out) })),
      { what: 'from past the end (starts at the end)', path: attach, send: hello({ role: 'spectator', from: 2 ** 50 }), expect: (r) => /^VTCON-OK .*"offset":\d+/.test(r.out) && !r.closed },
      { what: 'a frame of declared length 4 GiB', path: attach, send: Buffer.concat([Buffer.from(hello({ role: 'writer' })), frame(0, 0xffffffff)]), expect: (r) => r.closed },
      { what: 'an unknown frame type', path: attach, send: Buffer.concat([Buffer.from(hello({ role: 'writer' })), frame(7, 1, Buffer.from('x'))]), expect: (r) => r.closed },
      ...[[0, 24], [80, 0], [-1, 24], [65536, 24]].map(([cols, rows]) => ({
        what: `a resize to ${cols}x${rows}`, path: attach,
        send: Buffer.concat([Buffer.from(hello({ role: 'writer' })), frame(1, JSON.stringify({ cols, rows }).length, Buffer.from(JSON.stringify({ cols, rows })))]), expect: (r: { closed: boolean }) => r.closed,
      })),
      {
        what: '2000 valid resizes in one write', path: attach,
        send: Buffer.concat([Buffer.from(hello({ role: 'writer' })), ...Array.from({ length: 2000 }, (_, i) => { const j = Buffer.from(JSON.stringify({ cols: 1 + (i % 65535), rows: 65535 })); return frame(1, j.length, j); })]),
        expect: (r) => /^VTCON-OK /.test(r.out) && !r.closed,
      },
      { what: 'a half-closed writer (SHUT_WR) still reads', path: attach, send: hello({ role: 'writer' }), halfClose: true, expect: (r) => /^VTCON-OK /.test(r.out) },
      {
        what: '3 lines of 400k nested JSON arrays', path: rig.control, send: `${'['.repeat(400_000)}${']'.repeat(400_000)}\n`.repeat(3),
        expect: (r) => (r.out.match(/"code":"BAD_REQUEST"/g) ?? []).length === 3,
      },
      { what: 'an unknown method', path: rig.control, send: '{"id":1,"method":"__proto__"}\n{"id":1,"method":"constructor"}\n', expect: (r) => (r.out.match(/"code":"UNKNOWN_METHOD"/g) ?? []).length === 2 },
      { what: 'one id reused, then a half-close', path: rig.control, send: '{"id":1,"method":"ping"}\n{"id":1,"method":"ping"}\n', halfClose: true, expect: (r) => (r.out.match(/"id":1,"result"/g) ?? []).length === 2 },
    ];
    for (const p of probes) {
      const r = await exchange(p.path, p.send, 600, p.halfClose);
      if (!p.expect(r)) problems.push(`${p.what}: ${r.closed ? 'closed' : 'open'}, got ${JSON.stringify(r.out.slice(0, 120))}`);
    }
    await verdict(rig, 'malformed client input', problems);
  });
});
