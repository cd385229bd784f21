// A backlog goes out in chunks near the server's max_payload (few messages: each costs a round
// trip, an ack and a read), never above it (a server with a small max_payload gets small chunks
// instead of a publish it refuses forever), and the stream still equals the log when NATS is
// killed in the middle of a large-chunk catch-up. A real nats-server, real files.
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../testing/binary.js';
import { streamed } from '../testing/fleet-daemon.js';
import { natsServer, type NatsServer } from '../testing/nats.js';
import { outputStreamSchema } from './config.js';
import { H_OFFSET } from './names.js';
import { readOutput } from './output-reader.js';
import { ensureOutputStream } from './output-stream.js';
import { CHUNK_MAX, PortPublisher } from './publisher.js';

const MiB = 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** Bytes whose value depends on their offset, so a misplaced chunk shows. */
function history(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 32 + (((from + i) * 7 + Math.floor((from + i) / 1000)) % 90);
  return b;
}

async function setUp(extraConf = ''): Promise<{ nats: NatsServer; nc: NatsConnection; dir: string; publisher(logFile: string): PortPublisher }> {
  const nats = await natsServer(extraConf);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  cleanups.push(() => nats.stop(), () => nc.close());
  const jsm = await ensureOutputStream(nc, outputStreamSchema.parse({}));
  const js = jetstream(nc);
  const dir = tempDir('vtcon-fleet-chunks-');
  mkdirSync(join(dir, 'vm1'));
  return {
    nats, nc, dir,
    publisher: (logFile) => {
      const p = new PortPublisher({ js, jsm, stream: 'VTCON_OUT', host: 'h1', vm: 'vm1', port: 'console', logFile, maxPayload: () => nc.info?.max_payload });
      cleanups.push(() => p.stop());
      return p;
    },
  };
}

async function messageSizes(url: string, subject: string): Promise<number[]> {
  const nc = await connect({ servers: url });
  try {
    const sizes: number[] = [];
    for await (const c of readOutput(nc, 'VTCON_OUT', subject)) sizes.push(c.data.length);
    return sizes;
  } finally {
    await nc.close();
  }
}

/** Waits until the stream's last message ends where the log does, then checks every byte once. */
async function caughtUp(url: string, p: PortPublisher, logFile: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const end = async () => {
      const m = await jsm.streams.getMessage('VTCON_OUT', { last_by_subj: p.subject }).catch(() => null);
      return m ? Number(m.header.get(H_OFFSET)) + m.data.length : 0;
    };
    await waitFor(async () => (await end()) >= statSync(logFile).size, `${logFile} in the stream`, 60_000);
  } finally {
    await nc.close();
  }
  expect((await streamed(url, p.subject)).equals(readFileSync(logFile))).toBe(true);
}

describe('fleet publisher chunks', () => {
  it('sends a backlog in chunks near max_payload (1 MiB by default)', async () => {
    const { nats, dir, publisher } = await setUp();
    const log = join(dir, 'vm1', 'console.log');
    appendFileSync(log, history(0, 3 * MiB));
    const p = publisher(log);
    await caughtUp(nats.url, p, log);
    const sizes = await messageSizes(nats.url, p.subject);
    expect(Math.max(...sizes)).toBe(CHUNK_MAX);
    expect(CHUNK_MAX).toBeGreaterThan(MiB - 8192);
    expect(sizes.length).toBeLessThanOrEqual(4);
  }, 90_000);

  it('keeps every message within a smaller max_payload of the server', async () => {
    const maxPayload = 64 * 1024;
    const { nats, dir, publisher } = await setUp(`max_payload: ${maxPayload}`);
    const log = join(dir, 'vm1', 'console.log');
    appendFileSync(log, history(0, MiB));
    const p = publisher(log);
    await caughtUp(nats.url, p, log);
    const sizes = await messageSizes(nats.url, p.subject);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxPayload);
  }, 90_000);

  it('equals the log after NATS is killed in the middle of a large-chunk catch-up', async () => {
    const { nats, nc, dir, publisher } = await setUp();
    const log = join(dir, 'vm1', 'console.log');
    let size = 24 * MiB;
    appendFileSync(log, history(0, size));
    const p = publisher(log);
    const jsm = await jetstreamManager(nc);
    await waitFor(() => jsm.streams.getMessage('VTCON_OUT', { last_by_subj: p.subject }).then((m) => m !== null, () => false), 'the first chunks');
    await nats.stop('SIGKILL');
    appendFileSync(log, history(size, MiB));
    size += MiB;
    await new Promise((r) => setTimeout(r, 500));
    await nats.start();
    appendFileSync(log, history(size, MiB));
    await caughtUp(nats.url, p, log);
    expect(p.stats().offset).toBe(size + MiB);
  }, 120_000);
});
