// Attach readers that follow the port's log (log mode): a real AppendLog (the worker's writer) on
// real files, a real AttachServer on a real Unix socket, raw and vtcon clients. The "port" here
// appends to the log and then hands the same bytes to the server, in that order, as the device
// does (log before the main thread sees the bytes).
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppendLog } from './append-log.js';
import { AttachServer, type AttachServerOptions } from './attach.js';
import { connectAttach } from './attach-client.js';
import { LogStream } from './log-stream.js';
import { LogStreamReader } from './log-stream-reader.js';
import { until as waitUntil } from '../test-support/until.js';

let dir: string;
const cleanups: (() => unknown)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vtcon-attlog-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

const until = (cond: () => boolean, what: string, ms = 20_000): Promise<void> => waitUntil(cond, { ms, what });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Port { srv: AttachServer; log: AppendLog; stream: LogStream; emit(b: Uint8Array): void; sent(): Buffer }

async function port(logOpts: { maxBytes?: number; keep?: number } = {}, extra: Partial<AttachServerOptions> = {}): Promise<Port> {
  const path = join(dir, 'console.log');
  const log = AppendLog.open({ path, ...logOpts });
  const stream = await LogStream.open(path, logOpts.maxBytes ?? Infinity);
  const srv = await AttachServer.listen({ path: join(dir, 'console.sock'), handshakeGraceMs: 40, onInput: () => undefined, log: stream, ...extra });
  cleanups.push(() => log.close(), () => srv.close());
  const all: Buffer[] = [];
  return {
    srv, log, stream,
    emit: (b) => { log.append([b], Date.now()); srv.write(b, Date.now()); all.push(Buffer.from(b)); },
    sent: () => Buffer.concat(all),
  };
}

/** A raw client (conserver's uds, socat) collecting what it gets. */
async function rawClient(path: string): Promise<{ socket: Socket; bytes: () => Buffer; count: () => number }> {
  const socket = connect(path);
  cleanups.push(() => socket.destroy());
  const got: Buffer[] = [];
  let n = 0;
  socket.on('data', (b: Buffer) => { got.push(b); n += b.length; });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, bytes: () => Buffer.concat(got), count: () => n };
}

/** Lines with their number, so a gap or a repeat shows in a diff. */
const lines = (from: number, count: number, width = 100) =>
  Buffer.from(Array.from({ length: count }, (_, i) => `line ${from + i} ${'x'.repeat(width)}\n`).join(''));

describe('AttachServer following the port log', () => {
  it('a paused reader lags instead of being dropped, holds at most one buffer, and resumes with every byte', async () => {
    const p = await port({}, { readBufferBytes: 16 * 1024 });
    const c = await rawClient(p.srv.path);
    await until(() => p.srv.who().length === 1, 'the raw client attached');
    c.socket.pause();
    // 8 MiB while the client reads nothing: far over the old 1 MiB slow-consumer limit.
    for (let i = 0; i < 128; i++) p.emit(randomBytes(64 * 1024));
    await until(() => p.srv.who()[0]!.lagBytes > 4 * 1024 * 1024, 'the reader to lag');
    const w = p.srv.who()[0]!;
    // Daemon memory for this reader: its one read buffer, at most, waiting in the socket.
    expect(w.queuedBytes).toBeLessThanOrEqual(16 * 1024);
    expect(p.srv.stats.slowConsumerDisconnects).toBe(0);
    c.socket.resume();
    const total = p.sent().length;
    await until(() => c.count() >= total, 'the reader to catch up');
    expect(sha(c.bytes())).toBe(sha(p.sent()));
    expect(p.srv.who()[0]!.lagBytes).toBe(0);
  });

  it('a reader that fell behind what the log keeps gets a marker with the skipped count, then the oldest kept bytes', async () => {
    const p = await port({ maxBytes: 4096, keep: 2 });
    const c = await rawClient(p.srv.path);
    await until(() => p.srv.who().length === 1, 'the raw client attached');
    c.socket.pause();
    const first = await new Promise<number>((resolve) => {
      // Let the reader take its first bytes, then starve it while the log rotates 30 times.
      p.emit(lines(0, 10));
      void until(() => p.srv.who()[0]!.bytesOut > 0, 'the first read').then(() => resolve(p.srv.who()[0]!.bytesOut));
    });
    for (let i = 0; i < 30; i++) p.emit(lines(10 + i * 40, 40));
    expect(p.log.stats.rotations).toBeGreaterThan(20);
    c.socket.resume();
    const marker = /\r\n\[vtcon: (\d+) bytes skipped\]\r\n/;
    const total = p.sent().length;
    // Done when the client holds a marker and, counting the skipped bytes, the whole stream.
    await until(() => {
      const m = marker.exec(c.bytes().toString('latin1'));
      return m !== null && c.count() > first && c.count() - m[0].length + Number(m[1]) >= total;
    }, 'the reader to finish');
    const out = c.bytes();
    const m = marker.exec(out.toString('latin1'));
    const skipped = Number(m![1]);
    const before = out.subarray(0, m!.index);
    const after = out.subarray(m!.index + m![0].length);
    const all = p.sent();
    // Before the marker: a prefix of the stream; after it: the rest from exactly `skipped` later.
    expect(before.equals(all.subarray(0, before.length))).toBe(true);
    expect(after.equals(all.subarray(before.length + skipped))).toBe(true);
    expect(p.srv.who()[0]!.skippedBytes).toBe(skipped);
    expect(p.srv.stats.bytesSkipped).toBe(skipped);
    // What it got after the marker is what the log still holds: the oldest kept byte onwards.
    expect(before.length + skipped).toBeGreaterThanOrEqual(p.stream.start);
  });

  it('16 readers on one port each get the stream byte-exact while the guest writes 4 MiB', async () => {
    const p = await port({ maxBytes: 1024 * 1024, keep: 8 });
    const cs = await Promise.all(Array.from({ length: 16 }, () => rawClient(p.srv.path)));
    await until(() => p.srv.who().length === 16, '16 clients attached');
    for (let i = 0; i < 64; i++) {
      p.emit(randomBytes(64 * 1024));
      if (i % 8 === 0) await new Promise((r) => setImmediate(r)); // let some readers run meanwhile
    }
    const total = p.sent().length;
    await until(() => cs.every((c) => c.count() >= total), 'every reader to get everything');
    const want = sha(p.sent());
    for (const c of cs) expect(sha(c.bytes())).toBe(want);
    expect(p.srv.stats.slowConsumerDisconnects).toBe(0);
    expect(p.srv.stats.bytesSkipped).toBe(0);
  });

  it('replay on attach comes from the log (no scrollback given), then the live stream without gap or overlap', async () => {
    const p = await port();
    p.emit(lines(0, 50));
    const conn = await connectAttach(p.srv.path, { role: 'spectator', replay: 3 });
    cleanups.push(() => conn.socket.destroy());
    const got: Buffer[] = [Buffer.from(conn.initial)];
    conn.socket.on('data', (b: Buffer) => got.push(b));
    conn.socket.resume();
    const replay = lines(47, 3);
    expect(conn.reply.replayed).toBe(replay.length);
    expect(conn.reply.offset).toBe(p.sent().length - replay.length);
    p.emit(lines(50, 5));
    const want = Buffer.concat([replay, lines(50, 5)]);
    await until(() => Buffer.concat(got).length >= want.length, 'replay and live output');
    expect(Buffer.concat(got).equals(want)).toBe(true);
  });

  it('a client resuming "from" its offset gets the bytes after it: no gap, no repeat', async () => {
    const p = await port({ maxBytes: 8192, keep: 10 });
    p.emit(lines(0, 20));
    const a = await connectAttach(p.srv.path, { role: 'spectator', replay: 0 });
    const start = a.reply.offset!;
    const got: Buffer[] = [Buffer.from(a.initial)];
    a.socket.on('data', (b: Buffer) => got.push(b));
    a.socket.resume();
    p.emit(lines(20, 20));
    await until(() => Buffer.concat(got).length >= lines(20, 20).length, 'the first session');
    a.socket.destroy();
    const offset = start + Buffer.concat(got).length;
    p.emit(lines(40, 100)); // written while the client is away, across rotations
    const b = await connectAttach(p.srv.path, { role: 'spectator', replay: 50, from: offset });
    cleanups.push(() => b.socket.destroy());
    expect(b.reply.offset).toBe(offset);
    const more: Buffer[] = [Buffer.from(b.initial)];
    b.socket.on('data', (x: Buffer) => more.push(x));
    b.socket.resume();
    const want = lines(40, 100);
    await until(() => Buffer.concat(more).length >= want.length, 'the second session');
    expect(Buffer.concat([...got, ...more]).equals(Buffer.concat([lines(20, 20), want]))).toBe(true);
  });
});

describe('LogStreamReader close', () => {
  it('closed while its first read opens the file: no fd is left open for the GC to find', async () => {
    const path = join(dir, 'p.log');
    const log = AppendLog.open({ path, maxBytes: 1 << 20, keep: 1 });
    log.append([Buffer.from('hello\n')], Date.now());
    const stream = await LogStream.open(path);
    stream.advance(6);
    const openOnIt = () => readdirSync('/proc/self/fd').filter((f) => { try { return readlinkSync(`/proc/self/fd/${f}`) === path; } catch { return false; } }).length;
    const before = openOnIt();
    for (let i = 0; i < 20; i++) {
      const r = new LogStreamReader(stream, 0);
      const reading = r.read(Buffer.alloc(64));
      await r.close(); // a client gone while its feed's first read is under way
      await reading;
    }
    expect(openOnIt()).toBe(before);
    log.close();
  });
});

describe('LogStream offsets', () => {
  it('give the same bytes the same offsets after a restart (re-open) across rotations', async () => {
    const path = join(dir, 'p.log');
    const log = AppendLog.open({ path, maxBytes: 4096, keep: 4 });
    const s1 = await LogStream.open(path, 4096);
    const all: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      const b = lines(i * 10, 10, 20);
      log.append([b], Date.now());
      s1.advance(b.length);
      all.push(b);
      await s1.refresh();
    }
    await s1.settled();
    const stream = Buffer.concat(all);
    expect(s1.end).toBe(stream.length);
    expect(s1.start).toBeGreaterThan(0);
    // A new daemon: the files and the dotfile are all it has.
    const s2 = await LogStream.open(path, 4096);
    expect(s2.end).toBe(s1.end);
    expect(s2.start).toBe(s1.start);
    const r = new LogStreamReader(s2, s2.start + 100);
    const buf = Buffer.alloc(stream.length);
    let n = 0;
    for (;;) {
      const got = await r.read(buf.subarray(n));
      if (got.n === 0) break;
      n += got.n;
    }
    await r.close();
    expect(buf.subarray(0, n).equals(stream.subarray(s2.start + 100))).toBe(true);
    log.close();
  });
});
