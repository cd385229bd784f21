// Output to the fleet stream is exactly the port's local log, byte for byte: the built daemon
// with `fleet:`, a simulated guest writing numbered lines, nats-server SIGKILLed and restarted
// mid-stream (the daemon must catch up from the log), then the daemon SIGKILLed and restarted
// mid-stream (it must resume from the stream's last message, no byte twice).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../testing/binary.js';
import { fleetConfig, startFleetDaemon, streamed as streamedAt, type FleetDaemon } from '../testing/fleet-daemon.js';
import { guestPort } from '../testing/guest-port.js';
import { natsServer, type NatsServer } from '../testing/nats.js';
import { outSubject } from './names.js';

const line = (round: number, i: number): Buffer => Buffer.from(`r${round} line ${i} ${'.'.repeat((i * 37) % 300)}\n`);

const cleanups: (() => Promise<void> | void)[] = [];
const streamed = (nats: NatsServer, subject: string) => streamedAt(nats.url, subject);
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('fleet output stream', () => {
  it('equals the port log byte for byte across a NATS outage and a daemon SIGKILL', async () => {
    const nats = await natsServer();
    const dir = tempDir('vtcon-fleet-pub-');
    const daemons: FleetDaemon[] = [];
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => nats.stop(), () => { for (const d of daemons) d.child.kill('SIGKILL'); });
    const port = 'org.test.out';
    const cfg = fleetConfig(dir, 'h1', nats.url, [{ name: 'vm1', ports: [{ name: 'console', console: true }, { name: port }] }]);
    const socket = join(dir, 'h1', 'vm1.vhost.sock');
    const logPath = join(dir, 'h1', 'logs', 'vm1', `${port}.log`);
    const subject = outSubject('h1', 'vm1', port);
    const logged = () => readFileSync(logPath);

    daemons.push(await startFleetDaemon(cfg, dir));
    let g = await guestPort(socket, port);
    let i = 0;
    const writeLines = async (round: number, n: number, pauseMs = 0) => {
      for (const end = i + n; i < end; i++) {
        await g.write(line(round, i));
        if (pauseMs && i % 50 === 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    };

    await writeLines(1, 200);
    await waitFor(async () => (await streamed(nats, subject)).length > 0, 'the first bytes in the stream');
    await nats.stop('SIGKILL');
    await writeLines(1, 400, 200); // NATS away for ~1.6 s: the guest is not slowed, the log keeps everything
    await nats.start();
    await writeLines(1, 200);
    daemons[0]!.child.kill('SIGKILL');
    await daemons[0]!.exited;
    await g.driver.detach();

    daemons.push(await startFleetDaemon(cfg, dir));
    g = await guestPort(socket, port);
    await writeLines(2, 300);
    const log = logged();
    const out = (await waitFor(async () => {
      const s = await streamed(nats, subject);
      return s.length >= log.length ? s : null;
    }, "the stream to catch up with the log", 30_000))!;
    expect(out.length).toBe(log.length);
    expect(out.equals(log)).toBe(true);
    await g.driver.detach();
  }, 90_000);
});
