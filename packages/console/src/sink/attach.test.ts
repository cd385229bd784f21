import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AttachServer, type AttachClientInfo, type AttachServerOptions } from './attach.js';
import { connectAttach } from './attach-client.js';
import { encodeFrame } from './attach-protocol.js';
import { Scrollback } from './scrollback.js';
import { ClientSlots } from './client-slots.js';
import { until as waitUntil } from '../test-support/until.js';

const enc = (s: string) => new TextEncoder().encode(s);

let dir: string;
const servers: AttachServer[] = [];
const sockets: Socket[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vtcon-att-'));
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

interface Inputs {
  got: { bytes: string; client: AttachClientInfo }[];
}

async function serve(extra: Partial<AttachServerOptions> = {}): Promise<AttachServer & Inputs> {
  const got: Inputs['got'] = [];
  const srv = await AttachServer.listen({
    path: join(dir, 'console.sock'),
    handshakeGraceMs: 40,
    onInput: (bytes, client) => {
      got.push({ bytes: Buffer.from(bytes).toString('latin1'), client });
    },
    ...extra,
  });
  servers.push(srv);
  return Object.assign(srv, { got });
}

/** A raw client (what conserver's uds console and socat do) that records what it receives. */
async function rawClient(path: string): Promise<{ socket: Socket; out: () => string }> {
  const socket = connect(path);
  sockets.push(socket);
  let text = '';
  socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, out: () => text };
}

const until = (cond: () => boolean, what: string, ms = 10_000): Promise<void> => waitUntil(cond, { ms, what });

const attachedCount = (srv: AttachServer, n: number) => () => srv.who().length === n;

describe('AttachServer (raw clients: conserver uds / socat)', () => {
  it('a plain net.connect client gets raw output and its input reaches onInput', async () => {
    const srv = await serve();
    const c = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'attach');
    expect(srv.who()[0]).toMatchObject({ role: 'writer', protocol: 'raw', name: 'raw-1' });
    srv.write(enc('login: '), Date.now());
    await until(() => c.out() === 'login: ', 'output');
    c.socket.write('root\r');
    await until(() => srv.got.length > 0, 'input');
    expect(srv.got.map((g) => g.bytes).join('')).toBe('root\r');
    expect(srv.got[0]!.client.role).toBe('writer');
    expect(srv.stats).toMatchObject({ clientsNow: 1, bytesIn: 5, bytesOut: 7 });
  });

  it('socket is mode 0600 and removed on close', async () => {
    const srv = await serve();
    expect((await stat(srv.path)).mode & 0o777).toBe(0o600);
    servers.length = 0;
    await srv.close();
    await expect(stat(srv.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('output produced while a silent client is still unclassified is not lost', async () => {
    const srv = await serve({ handshakeGraceMs: 200 });
    const c = await rawClient(srv.path);
    await until(() => srv.stats.clientsTotal === 0, 'still pending');
    srv.write(enc('early '), 1);
    await until(attachedCount(srv, 1), 'attach');
    srv.write(enc('late'), 2);
    await until(() => c.out() === 'early late', 'all output');
  });

  it('first client writes, second is a spectator whose input is discarded and counted; both see output', async () => {
    const srv = await serve();
    const w = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'writer');
    const s = await rawClient(srv.path);
    await until(attachedCount(srv, 2), 'spectator');
    expect(srv.who().map((i) => i.role)).toEqual(['writer', 'spectator']);
    s.socket.write('rm -rf /\n');
    w.socket.write('ls\n');
    await until(() => srv.got.length === 1 && srv.stats.spectatorBytesDiscarded === 9, 'input');
    expect(srv.got[0]!.bytes).toBe('ls\n');
    expect(srv.who()[1]).toMatchObject({ inputDiscarded: 9, bytesIn: 0 });
    srv.write(enc('out\n'), 1);
    await until(() => w.out() === 'out\n' && s.out() === 'out\n', 'fan-out');
  });

  it('raw clients get rawReplayLines of scrollback on entry, then the live stream', async () => {
    const sb = new Scrollback({ capacityBytes: 1024 });
    const srv = await serve({ scrollback: sb, rawReplayLines: 2 });
    const put = (s: string) => {
      sb.write(enc(s), 1);
      srv.write(enc(s), 1);
    };
    put('l1\nl2\nl3\npar');
    const c = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'attach');
    put('tial\n');
    await until(() => c.out() === 'l3\npartial\n', 'replay + live');
  });

  it('a client that disconnects mid-stream is forgotten; writing continues; the writer role frees up', async () => {
    const srv = await serve();
    const detached: string[] = [];
    srv.on('detach', (_i: AttachClientInfo, reason: string) => detached.push(reason));
    const a = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'a');
    const b = await rawClient(srv.path);
    await until(attachedCount(srv, 2), 'b');
    for (let i = 0; i < 50; i++) {
      srv.write(enc(`chunk ${i}\n`), i);
      if (i === 20) a.socket.destroy();
      await new Promise((r) => setImmediate(r));
    }
    await until(() => detached.length === 1, 'detach');
    expect(detached).toEqual(['CLIENT_CLOSED']);
    let want = '';
    for (let i = 0; i < 50; i++) want += `chunk ${i}\n`;
    await until(() => b.out() === want, 'b sees everything');
    expect(srv.who()).toHaveLength(1);
    expect(srv.who()[0]!.role).toBe('spectator'); // no automatic promotion
    const c = await rawClient(srv.path);
    await until(attachedCount(srv, 2), 'c');
    expect(srv.who()[0]).toMatchObject({ role: 'writer', id: 3 });
    c.socket.write('x');
    await until(() => srv.got.length === 1, 'c input');
  });

  it('a stalled client (never reads) does not block others; it is dropped as SLOW_CONSUMER and memory stays bounded', async () => {
    const limit = 256 * 1024;
    const chunk = 16 * 1024;
    const srv = await serve({ clientQueueLimit: limit });
    const reasons: string[] = [];
    srv.on('detach', (i: AttachClientInfo, reason: string) => reasons.push(`${i.id}:${reason}`));
    const stalled = connect(srv.path);
    sockets.push(stalled);
    stalled.pause(); // never reads
    await until(attachedCount(srv, 1), 'stalled attached');
    const reader = await rawClient(srv.path);
    await until(attachedCount(srv, 2), 'reader attached');
    const total = 8 * 1024 * 1024;
    const payload = new Uint8Array(chunk).fill(0x61);
    let maxQueued = 0;
    let received = 0;
    reader.socket.removeAllListeners('data');
    reader.socket.on('data', (b: Buffer) => (received += b.length));
    for (let sent = 0; sent < total; sent += chunk) {
      srv.write(payload, sent); // never blocks, never throws
      for (const i of srv.who()) maxQueued = Math.max(maxQueued, i.queuedBytes);
      // Let the reader drain (bounded by its own queue): a port writes in batches too.
      if (sent % (128 * 1024) === 0) await until(() => received >= sent - limit / 2, 'reader keeps up');
    }
    await until(() => received === total, 'reader got every byte', 20_000);
    expect(reasons).toEqual(['1:SLOW_CONSUMER']);
    expect(srv.stats.slowConsumerDisconnects).toBe(1);
    expect(maxQueued).toBeLessThanOrEqual(limit + chunk);
    expect(srv.who().map((i) => i.id)).toEqual([2]);
  });

  it('onInput returning false pauses the writer until resumeInput(); no input is lost', async () => {
    let accept = false;
    const got: string[] = [];
    const srv = await serve({
      onInput: (b) => {
        got.push(Buffer.from(b).toString());
        return accept;
      },
    });
    const c = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'attach');
    c.socket.write('a');
    await until(() => got.length === 1, 'first input');
    c.socket.write('bcd');
    await new Promise((r) => setTimeout(r, 30));
    expect(got.join('')).toBe('a'); // paused: 'bcd' waits in the socket
    accept = true;
    srv.resumeInput();
    await until(() => got.join('') === 'abcd', 'rest of input');
  });

  it('a paused writer that closes with input unread is seen gone (its fd is not held until the guest reads)', async () => {
    const srv = await serve({ onInput: () => false });
    const c = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'attach');
    c.socket.write('a');
    await until(() => srv.who().some((k) => k.bytesIn === 1), 'paused after the first input');
    c.socket.write('unread input');
    c.socket.destroy();
    await until(() => srv.stats.clientsNow === 0, 'the closed writer dropped', 5000);
  });

  it('refuses a live socket path and a non-socket file; replaces a stale socket', async () => {
    const srv = await serve();
    await expect(AttachServer.listen({ path: srv.path, onInput: () => undefined }))
      .rejects.toMatchObject({ reason: 'ATTACH_PATH_IN_USE' });
    const file = join(dir, 'plain');
    await writeFile(file, 'x');
    await expect(AttachServer.listen({ path: file, onInput: () => undefined }))
      .rejects.toMatchObject({ reason: 'ATTACH_PATH_NOT_SOCKET' });
    // A stale socket, as a crashed daemon leaves it: bound, nobody listening.
    const stalePath = join(dir, 'stale.sock');
    const r = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stalePath]);
    expect(r.status).toBe(0);
    expect((await lstat(stalePath)).isSocket()).toBe(true);
    const s2 = await AttachServer.listen({ path: stalePath, onInput: () => undefined, handshakeGraceMs: 10 });
    servers.push(s2);
    const c = await rawClient(stalePath);
    await until(attachedCount(s2, 1), 'client on the replaced socket');
    expect(c.socket.readyState).toBe('open');
  });
});

describe('AttachServer (vtcon handshake)', () => {
  it('writer, spectator, force-writer: roles, reply, who() and events', async () => {
    const srv = await serve({ handshakeGraceMs: 1000 });
    const roles: string[] = [];
    srv.on('role', (i: AttachClientInfo, prev: string) => roles.push(`${i.name}:${prev}->${i.role}`));
    const a = await connectAttach(srv.path, { role: 'writer', name: 'alice' });
    expect(a.reply).toMatchObject({ protocol: 1, id: 1, role: 'writer', writer: 'alice', replayed: 0 });
    const b = await connectAttach(srv.path, { role: 'writer', name: 'bob' });
    expect(b.reply).toMatchObject({ role: 'spectator', writer: 'alice' }); // downgraded, told who writes
    const c = await connectAttach(srv.path, { role: 'spectator', name: 'carol' });
    expect(c.reply.role).toBe('spectator');
    for (const x of [a, b, c]) sockets.push(x.socket);
    b.sendInput(enc('ignored'));
    a.sendInput(enc('from alice'));
    await until(() => srv.got.length === 1 && srv.stats.spectatorBytesDiscarded === 7, 'inputs');
    const d = await connectAttach(srv.path, { role: 'force-writer', name: 'dave' });
    sockets.push(d.socket);
    expect(d.reply).toMatchObject({ role: 'writer', writer: 'dave' });
    expect(roles).toEqual(['alice:writer->spectator']);
    a.sendInput(enc('alice again'));
    d.sendInput(enc('from dave'));
    await until(() => srv.got.length === 2 && srv.stats.spectatorBytesDiscarded === 18, 'dave input');
    expect(srv.got.map((g) => `${g.client.name}:${g.bytes}`)).toEqual(['alice:from alice', 'dave:from dave']);
    const who = srv.who();
    expect(who.map((i) => `${i.name}/${i.role}/${i.protocol}`)).toEqual([
      'dave/writer/vtcon', 'alice/spectator/vtcon', 'bob/spectator/vtcon', 'carol/spectator/vtcon',
    ]);
    expect(who[0]!.since).toBeGreaterThan(0);
    expect(who[1]).toMatchObject({ bytesIn: 10, inputDiscarded: 11 });
  });

  it('a late client gets the last N lines as replay, then live output, with no gap or overlap', async () => {
    const sb = new Scrollback({ capacityBytes: 4096 });
    const srv = await serve({ scrollback: sb, handshakeGraceMs: 1000 });
    const put = (s: string) => {
      sb.write(enc(s), 1);
      srv.write(enc(s), 1);
    };
    for (let i = 1; i <= 10; i++) put(`line ${i}\n`);
    put('prompt$ ');
    const c = await connectAttach(srv.path, { role: 'spectator', replay: 3, name: 'late' });
    sockets.push(c.socket);
    let out = Buffer.from(c.initial).toString();
    c.socket.on('data', (b: Buffer) => (out += b.toString()));
    c.socket.resume();
    put('ls\n');
    const want = 'line 9\nline 10\nprompt$ ls\n';
    await until(() => out === want, 'replay then live');
    expect(c.reply.replayed).toBe('line 9\nline 10\nprompt$ '.length);
  });

  it('resize frames from the writer reach onResize; a spectator resize is ignored', async () => {
    const sizes: string[] = [];
    const srv = await serve({ handshakeGraceMs: 1000, onResize: (s, cl) => sizes.push(`${cl.name}:${s.cols}x${s.rows}`) });
    const w = await connectAttach(srv.path, { role: 'writer', name: 'w' });
    const s = await connectAttach(srv.path, { role: 'spectator', name: 's' });
    sockets.push(w.socket, s.socket);
    s.sendResize({ cols: 1, rows: 1 });
    w.sendInput(enc('a'));
    w.sendResize({ cols: 132, rows: 43 });
    w.sendInput(enc('b'));
    await until(() => sizes.length === 1 && srv.got.length === 2, 'resize + input');
    expect(sizes).toEqual(['w:132x43']);
  });

  it('a bad handshake gets VTCON-ERR; a bad frame disconnects only that client', async () => {
    const srv = await serve({ handshakeGraceMs: 1000 });
    await expect(connectAttach(srv.path, { role: 'boss' as 'writer' })).rejects.toMatchObject({ reason: 'ATTACH_PROTOCOL' });
    const good = await connectAttach(srv.path, { role: 'spectator', name: 'good' });
    const bad = await connectAttach(srv.path, { role: 'writer', name: 'bad' });
    sockets.push(good.socket, bad.socket);
    const closed = new Promise((r) => bad.socket.once('close', r));
    bad.socket.resume();
    bad.socket.write(encodeFrame(9, enc('x')));
    await closed;
    await until(() => srv.who().length === 1, 'bad dropped');
    expect(srv.stats.protocolErrors).toBe(2);
    expect(srv.who()[0]!.name).toBe('good');
  });

  it('a refused handshake whose peer never closes its end is closed after a grace (the fd is not held)', async () => {
    const srv = await serve({ handshakeGraceMs: 1000 });
    const socket = connect({ path: srv.path, allowHalfOpen: true });
    sockets.push(socket);
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise((r) => socket.once('close', r));
    socket.write('VTCON-ATTACH {"role":"boss"}\n');
    // It keeps writing: a write fails (EPIPE) only once the server closed its socket.
    const t = setInterval(() => socket.write('x'), 50);
    await closed;
    clearInterval(t);
    expect(text).toMatch(/^VTCON-ERR .*ATTACH_PROTOCOL/);
  });

  it('a budget shared by two servers (ClientSlots): past it a client is closed at once and counted; its slot comes back when a client closes', async () => {
    const slots = new ClientSlots(2);
    const a = await serve({ slots });
    const b = await AttachServer.listen({ path: join(dir, 'other.sock'), handshakeGraceMs: 40, onInput: () => undefined, slots });
    servers.push(b);
    const first = await rawClient(a.path);
    await rawClient(b.path);
    await until(() => a.who().length === 1 && b.who().length === 1, 'two attached');
    const third = await rawClient(a.path);
    await new Promise((r) => third.socket.once('close', r));
    expect(a.stats.tooManyClients).toBe(1);
    expect(slots.refused).toBe(1);
    first.socket.destroy();
    await until(() => slots.inUse === 1, 'the slot given back');
    await rawClient(b.path);
    await until(() => b.who().length === 2, 'a new client on the other server');
  });

  it('a handshake that arrives after the grace period upgrades the client instead of typing it into the guest', async () => {
    const srv = await serve({ handshakeGraceMs: 10 });
    const raw = await rawClient(srv.path);
    await until(attachedCount(srv, 1), 'classified raw');
    srv.write(enc('noise'), 1);
    raw.socket.write('VTCON-ATTACH {"role":"writer","name":"slow"}\n');
    await until(() => raw.out().includes('VTCON-OK '), 'reply');
    expect(srv.got).toEqual([]);
    expect(srv.who()[0]).toMatchObject({ name: 'slow', protocol: 'vtcon', role: 'writer' });
  });
});
