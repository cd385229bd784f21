import { createConnection } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from './client.js';
import { CliError } from '../errors.js';
import { ControlServer } from './server.js';
import { tempDir } from '../testing/binary.js';

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const flood = { onClose: 0, events: 0 };

async function start(opts: ConstructorParameters<typeof ControlServer>[2] = {}, path = join(tempDir('vtcon-ctl-'), 'control.sock')) {
  const server = new ControlServer(path, {
    unary: {
      echo: (p) => p,
      fail: () => {
        throw new CliError('VM_NOT_FOUND', 'nothing here');
      },
    },
    stream: {
      ticks: (_p, sink) => {
        let n = 0;
        const t = setInterval(() => (++n <= 3 ? sink.event('tick', n) : sink.end()), 5);
        sink.onClose(() => clearInterval(t));
        return { started: true };
      },
      // Open until its client goes: a busy connection.
      hold: () => ({ held: true }),
      refused: () => {
        throw new CliError('PORT_NOT_FOUND', 'no such port');
      },
      // 64 KiB events as fast as the event loop turns, like `logs -f` on a guest that floods.
      flood: (_p, sink) => {
        const chunk = 'x'.repeat(64 * 1024);
        const t = setInterval(() => {
          for (let i = 0; i < 4; i++) {
            flood.events++;
            sink.event('data', chunk);
          }
        }, 1);
        sink.onClose(() => {
          flood.onClose++;
          clearInterval(t);
        });
        return { stream: true };
      },
    },
    toError: (err) => (err instanceof CliError ? { code: err.code, message: err.message, reason: err.reason } : { code: 'INTERNAL', message: String(err) }),
  }, opts);
  servers.push(server);
  await server.listen();
  return path;
}

function rawExchange(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path, () => s.write(line));
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        s.destroy();
        resolve(out.trim());
      }
    });
    s.on('error', reject);
  });
}

/** A connected raw socket and everything it reads; `closed` once the server ends it. */
async function rawConn(path: string) {
  const s = createConnection(path);
  await new Promise<void>((resolve) => s.once('connect', resolve));
  const c = { s, out: '', closed: false };
  s.setEncoding('utf8').on('data', (d: string) => (c.out += d));
  s.on('close', () => (c.closed = true));
  s.on('error', () => undefined);
  return c;
}

describe('ControlServer', () => {
  it('at maxConnections the idlest connection makes room (TOO_MANY_CONNECTIONS); with every one busy a new one is refused', async () => {
    const path = await start({ maxConnections: 3 });
    const idle = [await rawConn(path), await rawConn(path)];
    idle[1]!.s.write('{"id":1,'); // a slowloris: still on its first line, as idle as a silent one
    const busy = await rawConn(path);
    busy.s.write(JSON.stringify({ id: 1, method: 'hold' }) + '\n');
    await waitFor(() => busy.out.includes('held'), 'the busy stream');
    // Two newcomers past the cap: each closes one idle connection, the oldest first. They stay
    // connected, so each is past the cap whatever order the server sees connects and closes in.
    for (const n of [0, 1]) {
      const c = await rawConn(path);
      c.s.write(JSON.stringify({ id: 7, method: 'echo', params: { n } }) + '\n');
      await waitFor(() => c.out.includes('\n'), `newcomer ${n}'s answer`);
      expect(c.out.trim()).toBe(JSON.stringify({ id: 7, result: { n } }));
      await waitFor(() => idle[n]!.closed, `idle connection ${n} closed`);
      expect(JSON.parse(idle[n]!.out.trim())).toMatchObject({ id: 0, error: { code: 'UNAVAILABLE', reason: 'TOO_MANY_CONNECTIONS' } });
      idle.push(c); // idle from now on: the next connections past the cap close these two
    }
    const more = [await rawConn(path), await rawConn(path)];
    for (const m of more) m.s.write(JSON.stringify({ id: 2, method: 'hold' }) + '\n');
    await waitFor(() => more.every((m) => m.out.includes('held')), 'two more busy streams');
    const refused = await rawConn(path);
    await waitFor(() => refused.closed, 'the refused connection closed');
    expect(JSON.parse(refused.out.trim())).toMatchObject({ id: 0, error: { reason: 'TOO_MANY_CONNECTIONS' } });
    expect(busy.closed || more.some((m) => m.closed)).toBe(false);
    for (const c of [busy, ...more]) c.s.destroy();
  });

  it('refuses a stream past maxStreams (TOO_MANY_STREAMS) and takes one again once a stream ended', async () => {
    const path = await start({ maxStreams: 2 });
    const a = await rawConn(path);
    // Refused streams hold no place: four of them first, then three that open.
    a.s.write([5, 6, 7, 8].map((id) => JSON.stringify({ id, method: 'refused' }) + '\n').join(''));
    await waitFor(() => a.out.trim().split('\n').length === 4, 'four refusals');
    expect(a.out).toMatch(/PORT_NOT_FOUND/);
    a.out = '';
    a.s.write([1, 2, 3].map((id) => JSON.stringify({ id, method: 'hold' }) + '\n').join(''));
    await waitFor(() => a.out.trim().split('\n').length === 3, 'three replies');
    const replies = a.out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; error?: { reason: string } });
    expect(replies.filter((r) => r.error).map((r) => r.error!.reason)).toEqual(['TOO_MANY_STREAMS']);
    a.s.destroy();
    await waitFor(() => a.closed, 'the first connection closed');
    // Its streams end when the server sees the close: asked again until then.
    let again = '';
    for (let i = 0; i < 100 && !again.includes('held'); i++) again = await rawExchange(path, JSON.stringify({ id: 4, method: 'hold' }) + '\n');
    expect(again).toBe(JSON.stringify({ id: 4, result: { held: true } }));
  });

  it('creates the socket mode 0600', async () => {
    const path = await start();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('answers pipelined calls by id', async () => {
    const cl = await ControlClient.connect(await start());
    const [a, b] = await Promise.all([cl.call('echo', { x: 1 }), cl.call('echo', { x: 2 })]);
    expect([a, b]).toEqual([{ x: 1 }, { x: 2 }]);
    cl.close();
  });

  it('maps handler errors to {code, message, reason}', async () => {
    const cl = await ControlClient.connect(await start());
    await expect(cl.call('fail')).rejects.toMatchObject({ code: 'NOT_FOUND', reason: 'VM_NOT_FOUND' });
    await expect(cl.call('nope')).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    cl.close();
  });

  it('rejects a line that is not JSON with BAD_REQUEST', async () => {
    const reply = JSON.parse(await rawExchange(await start(), 'not json\n')) as { error: { code: string } };
    expect(reply.error.code).toBe('BAD_REQUEST');
  });

  it('streams events after the first result, then ends', async () => {
    const cl = await ControlClient.connect(await start());
    const events: unknown[] = [];
    const { first, done } = cl.stream('ticks', {}, (_e, d) => events.push(d));
    expect(await first).toEqual({ started: true });
    await done;
    expect(events).toEqual([1, 2, 3]);
    cl.close();
  });

  it('a client with no server gets UNAVAILABLE', async () => {
    await expect(ControlClient.connect('/nonexistent/dir/control.sock')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('ends a connection whose request line is too long with LINE_TOO_LONG (and answers others)', async () => {
    const path = await start({ maxLineBytes: 1024 });
    const reply = await new Promise<string>((resolve, reject) => {
      const s = createConnection(path, () => {
        // Longer than the bound in many chunks, never a newline: refused without waiting for one.
        for (let i = 0; i < 64; i++) s.write('a'.repeat(100));
      });
      let out = '';
      s.setEncoding('utf8').on('data', (d: string) => (out += d));
      s.on('close', () => resolve(out.trim()));
      s.on('error', reject);
    });
    expect(JSON.parse(reply)).toMatchObject({ id: 0, error: { code: 'BAD_REQUEST', reason: 'LINE_TOO_LONG' } });
    const cl = await ControlClient.connect(path);
    expect(await cl.call('echo', { still: 'here' })).toEqual({ still: 'here' });
    cl.close();
  });

  it('ends a stream whose client does not read with SLOW_CONSUMER instead of buffering for it', async () => {
    const cap = 256 * 1024;
    const path = await start({ maxQueuedBytes: cap });
    flood.onClose = 0;
    flood.events = 0;
    const s = createConnection(path);
    await new Promise<void>((resolve) => s.once('connect', resolve));
    s.pause(); // never reads while the daemon floods
    s.write(JSON.stringify({ id: 1, method: 'flood' }) + '\n');
    await waitFor(() => flood.onClose === 1, 'the slow consumer to be cut off');
    const emitted = flood.events;
    // Now read what the daemon kept for us: bounded, ending with the reason.
    let bytes = 0;
    let tail = '';
    s.on('data', (b: Buffer) => {
      bytes += b.length;
      tail = (tail + b.toString('utf8')).slice(-4096);
    });
    s.resume();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    const last = JSON.parse(tail.trim().split('\n').pop()!) as { error: { reason: string; message: string } };
    expect(last.error).toMatchObject({ reason: 'SLOW_CONSUMER' });
    expect(bytes).toBeLessThan(cap + 1024 * 1024); // the cap, one event and the kernel's socket buffers
    expect(flood.events).toBe(emitted); // the stream stopped producing
  });

  it('refuses a daemon.control path that is a regular file, and leaves the file alone', async () => {
    const path = join(tempDir('vtcon-ctl-'), 'control.sock');
    writeFileSync(path, 'precious');
    await expect(start({}, path)).rejects.toMatchObject({ reason: 'CONTROL_PATH_NOT_SOCKET', message: expect.stringMatching(/is not a socket/) });
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  it('creates the socket 0600 and its directory 0700 under umask 0', async () => {
    const old = process.umask(0);
    try {
      const path = join(tempDir('vtcon-ctl-'), 'run', 'vtcon', 'control.sock');
      await start({}, path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
      expect(statSync(join(path, '../..')).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });
});
