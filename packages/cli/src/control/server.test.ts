import { createConnection } from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from './client.js';
import { ApiError } from './protocol.js';
import { ControlServer } from './server.js';
import { tempDir } from '../testing/binary.js';

const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start() {
  const path = join(tempDir('vtcon-ctl-'), 'control.sock');
  const server = new ControlServer(path, {
    unary: {
      echo: (p) => p,
      fail: () => {
        throw new ApiError('NOT_FOUND', 'nothing here', 'VM_NOT_FOUND');
      },
    },
    stream: {
      ticks: (_p, sink) => {
        let n = 0;
        const t = setInterval(() => (++n <= 3 ? sink.event('tick', n) : sink.end()), 5);
        sink.onClose(() => clearInterval(t));
        return { started: true };
      },
    },
    toError: (err) => (err instanceof ApiError ? { code: err.code, message: err.message, ...(err.reason ? { reason: err.reason } : {}) } : { code: 'INTERNAL', message: String(err) }),
  });
  await server.listen();
  servers.push(server);
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

describe('ControlServer', () => {
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
});
