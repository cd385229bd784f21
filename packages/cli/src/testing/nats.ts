// Test support: a real nats-server (Debian trixie's 2.10, provisioned by scripts/nats-server.sh)
// with JetStream, a temp store dir and a loopback port of its own. Restartable on the same port
// and store, so tests can take NATS away and bring it back; or three of them as one cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
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
  /** The server's own log (stderr) since its last start, its tail if long: for a failure message. */
  log(): string;
}

/** `extraConf`: nats-server config text added after listen/jetstream (accounts, authorization). */
export async function natsServer(extraConf = ''): Promise<NatsServer> {
  const port = await freePort();
  const s = natsProcess(port, (dir) => `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}" }\n${extraConf}\n`);
  await s.start();
  return s;
}

export interface NatsCluster {
  nodes: NatsServer[];
  /** Every node's URL: the seed list daemons and clients are given. */
  servers: string[];
  /** Resolves once JetStream answers (a meta leader is elected); the cluster may be partly up. */
  jetStreamReady(timeoutMs?: number): Promise<void>;
  /**
   * Runs `create` (say, a stream with a replica on every node) until it succeeds: right after a
   * cluster forms, the meta leader may not know every peer yet ("no suitable peers for
   * placement"), for minutes on a loaded machine. Throws with the last error and the nodes' logs.
   */
  whenPlaced(what: string, create: (nc: NatsConnection) => Promise<unknown>, timeoutMs?: number): Promise<void>;
  /** Each node's warnings, errors and leader/route news (the last `lines` of its log): for a failure message. */
  logTails(lines?: number): string;
}

/**
 * A fresh `n`-node cluster on which `create` succeeded (see whenPlaced). A new cluster's meta
 * group has been seen, under load, never to place an R3 stream within 180 s while a second
 * cluster then did at once: after `perTryMs` this one is stopped and a new one (new ports, new
 * stores) is tried, `tries` times in all. Each failed try is written to stderr.
 */
export async function placedNatsCluster(
  n: number, what: string, create: (nc: NatsConnection) => Promise<unknown>, { tries = 3, perTryMs = 60_000 } = {},
): Promise<NatsCluster> {
  for (let i = 1; ; i++) {
    const cluster = await natsCluster(n);
    try {
      await cluster.whenPlaced(what, create, perTryMs);
      return cluster;
    } catch (e) {
      for (const node of cluster.nodes) await node.stop();
      if (i >= tries) throw e;
      process.stderr.write(`NATS cluster try ${i} of ${tries} failed, starting a new one: ${(e as Error).message}\n`);
    }
  }
}

/**
 * `n` nats-server processes on loopback routed into one JetStream cluster (each its own store).
 * `start`: which nodes to start now (all by default); the others start later with their own
 * `start()`. JetStream needs a majority of the nodes up to answer.
 */
export async function natsCluster(n = 3, start: number[] = [...Array(n).keys()]): Promise<NatsCluster> {
  const ports = await Promise.all([...Array(n)].map(() => freePort()));
  const routes = await Promise.all([...Array(n)].map(() => freePort()));
  const nodes = ports.map((port, i) => natsProcess(port, (dir) => `server_name: n${i}\nlisten: 127.0.0.1:${port}\n`
    + `jetstream { store_dir: "${join(dir, 'js')}" }\n`
    + `cluster { name: vtcon-test, listen: 127.0.0.1:${routes[i]}, routes: [${routes.map((r) => `nats://127.0.0.1:${r}`).join(', ')}] }\n`));
  for (const i of start) await nodes[i]!.start();
  const servers = nodes.map((s) => s.url);
  const logTails = (lines = 8): string => nodes.map((node, i) => `n${i} log: ${node.log().split('\n').filter((l) => /\[(WRN|ERR)\]|leader|Route connection/i.test(l)).slice(-lines).join(' | ')}`).join('; ');
  return {
    nodes, servers, logTails,
    async jetStreamReady(timeoutMs = 30_000) {
      const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
        await waitFor(() => jsm.getAccountInfo().then(() => true, () => false), 'JetStream in the NATS cluster', timeoutMs);
      } finally {
        await nc.close();
      }
    },
    async whenPlaced(what, create, timeoutMs = 180_000) {
      const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
      let last = '';
      try {
        await waitFor(() => create(nc).then(() => true, async (e: Error) => {
          last = e.message;
          await new Promise((r) => setTimeout(r, 500));
          return false;
        }), () => `${what} (last error: ${last}); ${logTails()}`, timeoutMs);
      } finally {
        await nc.close();
      }
    },
  };
}

/** One nats-server on `port` with its own dir; `conf(dir)` is its config text. Not started. */
function natsProcess(port: number, conf: (dir: string) => string): NatsServer {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} missing: run \`bash scripts/nats-server.sh\` (npm test does)`);
  const dir = tempDir('vtcon-nats-');
  const confPath = join(dir, 'nats.conf');
  writeFileSync(confPath, conf(dir));
  let child: ChildProcess | null = null;
  let err = '';
  return {
    url: `nats://127.0.0.1:${port}`, port, dir,
    async start() {
      const c = spawn(NATS_SERVER, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      err = '';
      c.stderr!.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-65536); });
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
    log: () => err,
  };
}
