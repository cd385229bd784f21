// Fleet mode (issue 15) with a real guest: the built daemon with `fleet:` on a real nats-server
// (the repository's .cache/nats-server, from scripts/nats-server.sh), QEMU 11 + Linux 6.12
// writing random bytes to a named port, once with NATS up and once with NATS down (caught up from
// the log when it is back). The stream, read back with `vtcon --nats URL logs`, must equal the
// port's log file byte for byte, and `vtcon --nats URL ls` must list the host and its VM.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { VtconDaemon } from './daemon.js';
import { daemonsPerTest, guestsPerTest } from './failure-log.js';
import { e2eTempDir } from './tmp.js';

const boot = guestsPerTest();
const startDaemon = daemonsPerTest();
const NATS_SERVER = process.env.VTCON_NATS_SERVER ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '.cache', 'nats-server', 'bin', 'nats-server');
const HOST = 'hv-e2e';
const PORT = 'org.test.0';
const BYTES = 256 * 1024;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

let nats: ChildProcess | null = null;
afterEach(() => { nats?.kill('SIGKILL'); nats = null; });

const freePort = (): Promise<number> => new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => res(port)); });
});

/** nats-server with JetStream on `port` and `store` (the same both times, so a restart keeps the stream). */
async function startNats(port: number, store: string): Promise<void> {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} missing: run \`bash scripts/nats-server.sh\``);
  const c = spawn(NATS_SERVER, ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  for (let i = 0; !err.includes('Server is ready'); i++) {
    if (c.exitCode !== null || i > 200) throw new Error(`nats-server did not start: ${err}`);
    await sleep(50);
  }
  nats = c;
}

async function streamEqualsLog(d: VtconDaemon, url: string, timeoutMs = 60_000): Promise<{ bytes: number; equal: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = d.logFileBytes('vm1', PORT);
    const r = await d.cli(['--nats', url, 'logs', `${HOST}/vm1:${PORT}`]);
    if ((r.code === 0 && r.stdout.equals(log)) || Date.now() > deadline) return { bytes: r.stdout.length, equal: r.stdout.equals(log) };
    await sleep(500);
  }
}

describe('fleet mode with a real guest', () => {
  it('F1: the stream equals the port log byte for byte, with NATS up and after NATS was down during the write', async () => {
    const natsPort = await freePort();
    const store = e2eTempDir('vtcon-e2e-nats-');
    const url = `nats://127.0.0.1:${natsPort}`;
    await startNats(natsPort, store);
    const d = await startDaemon({
      vms: [{ name: 'vm1', maxPorts: 4, ports: [{ name: 'console', console: true }, { name: PORT }] }],
      fleet: { host: HOST, heartbeatSeconds: 0.5, nats: { servers: url } },
    });
    const g = boot({ scenario: 'shell', stay: true, socketPath: d.socketOf('vm1'), numPorts: 4, name: 'vm1' });
    await g.waitFor(/^VTCON shell ready$/, { timeoutMs: 90_000 });

    const ls = JSON.parse((await d.run(['--nats', url, 'ls', '--json'])).toString('utf8')) as { hosts: { host: string; status: string; vms: { name: string; state: string }[] }[] };
    expect(ls.hosts.map((h) => [h.host, h.status, h.vms.map((v) => `${v.name}:${v.state}`)])).toEqual([[HOST, 'up', ['vm1:connected']]]);

    const write = async () => {
      const from = g.serial.lines().length;
      expect((await g.exec(`VTCON_PORT=${PORT} VTCON_BYTES=${BYTES} sh /scenarios/write-random.sh`, { timeoutMs: 120_000 })).rc).toBe(0);
      return (await g.waitFor(/^VTCON data bytes=(\d+) sha256=([0-9a-f]{64})/, { from })).match[2]!;
    };
    const first = await write();
    expect(await streamEqualsLog(d, url)).toEqual({ bytes: BYTES, equal: true });
    expect(sha256(d.logFileBytes('vm1', PORT))).toBe(first);

    nats!.kill('SIGKILL');
    nats = null;
    await write(); // the guest is not slowed by NATS being away: the log takes every byte
    await startNats(natsPort, store);
    expect(await streamEqualsLog(d, url)).toEqual({ bytes: 2 * BYTES, equal: true });
  });
});
