// Real QEMU 11 + the real Linux guest (needs `bash tools/e2e/setup.sh` first). These prove the
// harness itself: boot, scenarios, serial console, the vhost-user device's command line, kill.
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestsPerTest } from './failure-log.js';
import { e2ePaths } from './paths.js';
import { e2eTempDir } from './tmp.js';

const boot = guestsPerTest();
const paths = e2ePaths();

describe('e2e guest (real QEMU, real kernel)', () => {
  it('boots without a console device, runs scenarios in order and powers off', async () => {
    const g = boot({ scenario: ['info', 'ports'] });
    const first = await g.waitFor(/^VTCON boot (\S+)/, { timeoutMs: 60_000 });
    expect(first.match[1]).toBe(paths.kernelRelease);
    await g.waitFor(/^VTCON done$/, { timeoutMs: 30_000 });
    const lines = g.serial.lines().filter((l) => l.startsWith('VTCON '));
    expect(lines).toContain(`VTCON kernel ${paths.kernelRelease}`);
    expect(lines).toContain('VTCON virtio-devices 0');
    expect(lines).toContain('VTCON ports 0 ');
    expect(lines.indexOf('VTCON end info rc=0')).toBeLessThan(lines.indexOf('VTCON begin ports'));
    // poweroff -f with -no-reboot: QEMU exits by itself, cleanly.
    expect(await g.waitExit(30_000)).toEqual({ code: 0, signal: null });
    // QEMU copied the console into the log file too.
    expect(readFileSync(g.serialLog, 'utf8')).toMatch(/VTCON end ports rc=0/);
  });

  it('runs commands in the guest over the serial console (shell scenario)', async () => {
    const g = boot({ scenario: 'shell', stay: true, args: { marker: 'm-42' } });
    await g.waitFor(/^VTCON shell ready$/, { timeoutMs: 60_000 });
    const uname = await g.exec('uname -r');
    expect(uname).toEqual({ rc: 0, output: [paths.kernelRelease] });
    expect((await g.exec('echo "$VTCON_MARKER"')).output).toEqual(['m-42']);
    expect((await g.exec('exit 3')).rc).toBe(3);
    expect((await g.exec('ls /scenarios')).output.join(' ')).toMatch(/write-random\.sh/);
    expect(await g.kill()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('connects the vhost-user console device to the socket and asks for GET_FEATURES first', async () => {
    const dir = e2eTempDir('vtcon-e2e-vu-');
    const socketPath = join(dir, 'vu.sock');
    let conn: Socket | undefined;
    let gotMessage: (b: Buffer) => void = () => undefined;
    const firstMessage = new Promise<Buffer>((resolve) => (gotMessage = resolve));
    const server = createServer((c) => {
      conn = c;
      c.once('data', gotMessage);
      c.on('error', () => undefined);
    });
    // QEMU connects once, at startup: the backend must already listen.
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const g = boot({ scenario: 'info', socketPath, numPorts: 2, name: 'vhost-user-listener' });
    const msg = await firstMessage;
    // vhost-user header: request u32, flags u32 (version 1), size u32. Request 1 = GET_FEATURES.
    expect(msg.length).toBeGreaterThanOrEqual(12);
    expect([msg.readUInt32LE(0), msg.readUInt32LE(4), msg.readUInt32LE(8)]).toEqual([1, 1, 0]);
    // This listener never answers, so QEMU waits in device setup: the guest cannot have started.
    expect(g.running).toBe(true);
    expect(g.serial.lines()).toEqual([]);
    const closed = new Promise<void>((resolve) => conn!.once('close', () => resolve()));
    expect(await g.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    await closed; // the backend sees the connection end when QEMU dies
    server.close();
  });

  it('exits at once with an error when nobody listens on the vhost-user socket', async () => {
    const socketPath = join(e2eTempDir('vtcon-e2e-none-'), 'absent.sock');
    const g = boot({ scenario: 'info', socketPath, numPorts: 1, name: 'no-backend' });
    const exit = await g.waitExit(30_000);
    expect(exit.code).not.toBe(0);
    expect(g.qemuStderr()).toMatch(/absent\.sock|vhost|chardev/i);
  });
});
