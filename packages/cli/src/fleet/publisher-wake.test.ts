// The publisher wakes on the log's own change events, not on a poll: with the fallback poll set
// to ten minutes, every append still reaches the stream (a log directory that does not exist yet
// is polled briefly until the sink creates it, then watched). A real nats-server, real files.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../testing/binary.js';
import { streamed } from '../testing/fleet-daemon.js';
import { natsServer } from '../testing/nats.js';
import { outputStreamSchema } from './config.js';
import { ensureOutputStream } from './output-stream.js';
import { PortPublisher } from './publisher.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('fleet publisher wake-up', () => {
  it('publishes each append without waiting for its (ten-minute) poll, also when the log dir comes later', async () => {
    const nats = await natsServer();
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nats.stop(), () => nc.close());
    const jsm = await ensureOutputStream(nc, outputStreamSchema.parse({}));
    const js = jetstream(nc);
    const dir = tempDir('vtcon-fleet-wake-');
    const publisher = (vm: string, logFile: string) => {
      const p = new PortPublisher({ js, jsm, stream: 'VTCON_OUT', host: 'h1', vm, port: 'console', logFile, pollMs: 600_000 });
      cleanups.push(() => p.stop());
      return p;
    };
    const inStream = (p: PortPublisher, logFile: string) => waitFor(async () => (await streamed(nats.url, p.subject)).equals(readFileSync(logFile)), `${logFile} in the stream`);

    mkdirSync(join(dir, 'vm1'));
    const log1 = join(dir, 'vm1', 'console.log');
    writeFileSync(log1, '');
    const p1 = publisher('vm1', log1);
    for (let i = 0; i < 3; i++) {
      appendFileSync(log1, `line ${i}\n`);
      await inStream(p1, log1);
    }

    const log2 = join(dir, 'vm2', 'console.log');
    const p2 = publisher('vm2', log2);
    await new Promise((r) => setTimeout(r, 300));
    mkdirSync(join(dir, 'vm2'));
    writeFileSync(log2, 'first\n');
    await inStream(p2, log2);
    appendFileSync(log2, 'second\n');
    await inStream(p2, log2);
    expect((await streamed(nats.url, p2.subject)).toString()).toBe('first\nsecond\n');
  }, 60_000);
});
