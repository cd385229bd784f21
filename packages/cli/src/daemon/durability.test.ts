// `kill -9` of the daemon mid-stream loses no byte the guest saw acknowledged: the built `vtcon
// serve` in a child process, a guest (the seed's driver model over a real vhost-user socket, guest
// RAM in a memfd) in this process writing numbered lines, SIGKILL right after an acknowledgment
// with the next write in flight. The log must hold every acknowledged byte, as an exact prefix of
// the stream (nothing duplicated or torn), and a restarted daemon must append after it.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServe, tempDir, vmYaml, type ServeChild } from '../testing/binary.js';
import { guestPort } from '../testing/guest-port.js';

type Daemon = ServeChild;

const startDaemon = (configPath: string, dir: string): Promise<Daemon> =>
  spawnServe(configPath, dir, (err) => err.includes('VM listening'), 'the daemon to listen');

const line = (round: number, i: number): Buffer => Buffer.from(`r${round} line ${i} ${'.'.repeat((i * 37) % 300)}\n`);

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0)) c(); });

describe('daemon SIGKILL', () => {
  it.each([
    { port: 'console', killAfter: 40_000 },
    { port: 'org.test.durable', killAfter: 150_000 },
    { port: 'org.test.durable', killAfter: 700_000 },
  ])('loses no acknowledged byte on $port (kill after $killAfter bytes), and a restarted daemon appends after them', async ({ port, killAfter }) => {
    const dir = tempDir('vtcon-durable-');
    const daemons: Daemon[] = [];
    cleanups.push(() => { for (const d of daemons) d.child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
    const configPath = join(dir, 'fleet.yaml');
    writeFileSync(configPath, `daemon:\n  control: ${join(dir, 'control.sock')}\n  runtimeDir: ${dir}\nvms:\n`
      + vmYaml(dir, 'vm1', [{ name: 'console', console: true }, { name: 'org.test.durable' }]));
    const socket = join(dir, 'vm1.vhost.sock');
    const logPath = join(dir, 'logs', 'vm1', `${port}.log`);

    const first = await startDaemon(configPath, dir);
    daemons.push(first);
    const g = await guestPort(socket, port);
    const sent: Buffer[] = [];
    let acked = 0;
    for (let i = 0; ; i++) {
      const l = line(1, i);
      sent.push(l);
      await g.write(l);
      acked += l.length;
      // The same promise, checked at every acknowledgment: the bytes are in the file already.
      const size = statSync(logPath).size;
      if (size < acked) throw new Error(`line ${i} acknowledged (${acked} bytes) before it was in the log (${size} bytes)`);
      if (acked >= killAfter) {
        const next = line(1, i + 1);
        sent.push(next);
        void g.write(next).catch(() => undefined); // in flight at the kill: may or may not be logged
        first.child.kill('SIGKILL');
        break;
      }
    }
    await first.exited;
    await g.driver.detach();

    const stream = Buffer.concat(sent);
    const log = readFileSync(logPath);
    if (log.length < acked) throw new Error(`acknowledged ${acked} bytes, the log holds ${log.length} after SIGKILL`);
    expect(log.equals(stream.subarray(0, log.length))).toBe(true);

    // The restarted daemon (same config) serves a new guest and appends after what is there.
    const second = await startDaemon(configPath, dir);
    daemons.push(second);
    const g2 = await guestPort(socket, port);
    const after = Buffer.concat(Array.from({ length: 50 }, (_, i) => line(2, i)));
    await g2.write(after);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await g2.driver.detach();
    expect(readFileSync(logPath).equals(Buffer.concat([log, after]))).toBe(true);
  });
});
