// Test support: a real nats-server (Debian trixie's 2.10, provisioned by scripts/nats-server.sh)
// with JetStream, a temp store dir and a loopback port of its own. Restartable on the same port
// and store, so tests can take NATS away and bring it back.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, waitFor } from './binary.js';

export const NATS_SERVER = process.env.VTCON_NATS_SERVER ?? resolve(fileURLToPath(import.meta.url), '../../../../../.cache/nats-server/bin/nats-server');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export interface NatsServer {
  url: string;
  port: number;
  dir: string;
  start(): Promise<void>;
  /** SIGKILL by default: an outage, not a goodbye. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `extraConf`: nats-server config text added after listen/jetstream (accounts, authorization). */
export async function natsServer(extraConf = ''): Promise<NatsServer> {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} missing: run \`bash scripts/nats-server.sh\` (npm test does)`);
  const port = await freePort();
  const dir = tempDir('vtcon-nats-');
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}" }\n${extraConf}\n`);
  let child: ChildProcess | null = null;
  const s: NatsServer = {
    url: `nats://127.0.0.1:${port}`, port, dir,
    async start() {
      const c = spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      let err = '';
      c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      await waitFor(() => err.includes('Server is ready') || c.exitCode !== null, 'nats-server to be ready');
      if (c.exitCode !== null) throw new Error(`nats-server exited: ${err}`);
    },
    async stop(signal = 'SIGKILL') {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
    },
  };
  await s.start();
  return s;
}
