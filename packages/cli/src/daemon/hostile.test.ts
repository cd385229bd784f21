// The daemon against what a hostile guest, front-end or local client can do to it: the built
// `vtcon serve` in a child process, guests (the seed's driver model over real vhost-user sockets)
// in this process. Each case checks the daemon stays alive and bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectGuest } from '@vtcon/console/testing';
import { ControlClient } from '../control/client.js';
import { readHolderStatus } from '../cli/holder-status.js';
import { BIN, runCli, tempDir, vmYaml, waitFor } from '../testing/binary.js';

interface Daemon { child: ChildProcess; exited: Promise<number | null>; stderr(): string; env: Record<string, string>; dir: string; configPath: string }

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** `vtcon serve` on a config of `daemonYaml` (indented lines under daemon:) and `vms`. */
async function startDaemon(daemonYaml: string, vms: (dir: string) => string, shell = '', nodeArgs: string[] = []): Promise<Daemon> {
  const dir = tempDir('vtcon-hostile-');
  const control = join(dir, 'control.sock');
  const configPath = join(dir, 'fleet.yaml');
  writeFileSync(configPath, `daemon:\n  control: ${control}\n  runtimeDir: ${join(dir, 'run')}\n${daemonYaml.replace('LOGDIR', join(dir, 'daemon-logs'))}vms:\n${vms(dir)}`);
  const argv = [...nodeArgs, BIN, 'serve', '--config', configPath];
  const child = shell
    ? spawn('/bin/sh', ['-c', `${shell}; exec "$0" "$@"`, process.execPath, ...argv], { env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') }, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, argv, { env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(() => err.includes('vtcon: serving') || child.exitCode !== null, 'the daemon to serve');
  if (child.exitCode !== null) throw new Error(`vtcon serve exited ${child.exitCode}: ${err}`);
  return { child, exited, stderr: () => err, env: { VTCON_SOCKET: control }, dir, configPath };
}

describe('daemon log on a full disk', () => {
  it('drops and counts lines, keeps serving, and SIGTERM still stops it with exit 0', async () => {
    const d = await startDaemon('  logFile: /dev/full\n', (dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    expect(runCli(['ls'], d.env).code).toBe(0);
    expect(runCli(['port', 'add', 'vm1', 'extra'], d.env).code).toBe(0); // logs a line more
    await waitFor(() => /daemon log \/dev\/full: ENOSPC; dropping log lines/.test(d.stderr()), 'the note on stderr');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('a guest flooding the control queue with unknown events', () => {
  it('costs the daemon log a rate-limited number of lines, with a count of the suppressed ones', async () => {
    const d = await startDaemon('', (dir) => vmYaml(dir, 'evil', [{ name: 'console', console: true }]));
    const { driver } = await connectGuest(join(d.dir, 'evil.vhost.sock'));
    const started = performance.now();
    const N = 3000;
    for (let i = 0; i < N; i++) await driver.ctrlSendControl(0, 0x7fff, 1);
    const seconds = (performance.now() - started) / 1000;
    await driver.detach();
    await waitFor(() => /"suppressed":\d+/.test(d.stderr()), 'the suppressed-lines summary');
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const lines = d.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { vm?: string; msg: string; suppressed?: number });
    const flood = lines.filter((l) => l.vm === 'evil' && l.msg === 'unknown control event from guest ignored').length;
    const suppressed = lines.reduce((n, l) => n + (l.vm === 'evil' ? l.suppressed ?? 0 : 0), 0);
    // Burst 20 + 10/s over the time the flood took (with a second of slack for the clock reads).
    expect(flood).toBeLessThanOrEqual(20 + 10 * (seconds + 1));
    expect(flood + suppressed).toBeGreaterThanOrEqual(N); // every line is written or counted (with the guest's other lines)
  });
});

describe('the daemon log file', () => {
  it('is capped: it rotates at daemon.logRotateBytes and keeps daemon.logKeepFiles', async () => {
    const d = await startDaemon('  logFile: LOGDIR/daemon.log\n  logRotateBytes: 4096\n  logKeepFiles: 1\n', (dir) => vmYaml(dir, 'vm1', [{ name: 'console' }]));
    const client = await ControlClient.connect(d.env.VTCON_SOCKET!);
    for (let i = 0; i < 60; i++) await client.call('reload'); // each logs "reload applied"
    client.close();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const logs = join(d.dir, 'daemon-logs');
    expect(readdirSync(logs).sort()).toEqual(['daemon.log', 'daemon.log.1']);
    for (const f of readdirSync(logs)) expect(statSync(join(logs, f)).size).toBeLessThanOrEqual(4096);
    expect(readFileSync(join(logs, 'daemon.log'), 'utf8')).toMatch(/"msg":"stopped"/);
  });
});

/** Every path under `dir` (recursive), for "nothing was left behind" checks. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('hostile port and VM names', () => {
  it('port add refuses names with /, .., a leading dot, control bytes or > 64 chars, and creates nothing', async () => {
    const d = await startDaemon('', (dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    const before = tree(d.dir);
    const r = runCli(['port', 'add', 'vm1', '../../escape'], d.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/params\.port: must be 1-64 characters of A-Z a-z 0-9 \. _ - not starting with a dot/);
    const client = await ControlClient.connect(d.env.VTCON_SOCKET!);
    for (const bad of ['a/b', '..', '.hidden', 'new\nline', 'bell\x07', 'x'.repeat(65), 'sp ace', '']) {
      await expect(client.call('port.add', { vm: 'vm1', port: bad }), JSON.stringify(bad)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(tree(d.dir)).toEqual(before);
    // One level up only: the parent is the shared temp dir, whose other entries come and go.
    expect(readdirSync(join(d.dir, '..')).filter((p) => p.startsWith('escape'))).toEqual([]);
    // Valid names work, and a port the device refuses (no free id) leaves nothing behind.
    for (let i = 1; i < 8; i++) await client.call('port.add', { vm: 'vm1', port: `p${i}` });
    const full = tree(d.dir);
    await expect(client.call('port.add', { vm: 'vm1', port: 'one-too-many' })).rejects.toMatchObject({ code: 'CONFLICT', reason: 'NO_FREE_PORT' });
    expect(tree(d.dir)).toEqual(full);
    client.close();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('modes', () => {
  it('under umask 0: sockets 0600, directories 0700', async () => {
    const d = await startDaemon('', (dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]), 'umask 0');
    const mode = (p: string) => (statSync(join(d.dir, p)).mode & 0o777).toString(8);
    expect({
      control: mode('control.sock'), vhost: mode('vm1.vhost.sock'), attach: mode('run/vm1/console.sock'),
      runtimeDir: mode('run'), attachDir: mode('run/vm1'), logDir: mode('logs'), vmLogDir: mode('logs/vm1'),
    }).toEqual({ control: '600', vhost: '600', attach: '600', runtimeDir: '700', attachDir: '700', logDir: '700', vmLogDir: '700' });
    expect(statSync(join(d.dir, 'logs/vm1/console.log')).mode & 0o077).toBe(0);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('one VM that cannot be set up', () => {
  it('is reported and skipped; the other VMs are served', async () => {
    const d = await startDaemon('', (dir) => {
      writeFileSync(join(dir, 'not-a-dir'), '');
      return vmYaml(dir, 'good', [{ name: 'console', console: true }])
        + vmYaml(dir, 'bad', [{ name: 'console', console: true }]).replace(join(dir, 'logs'), join(dir, 'not-a-dir', 'logs'));
    });
    expect(d.stderr()).toMatch(/VM bad not served \(SINK_FAILED\): .*ENOTDIR/);
    expect(d.stderr()).toMatch(/serving 1 VM\(s\)/);
    const ls = JSON.parse(runCli(['ls', '--json'], d.env).stdout) as { vms: { name: string }[] };
    expect(ls.vms.map((v) => v.name)).toEqual(['good']);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('attach input into a guest that does not read', () => {
  it('a 4 MiB paste pauses the writer instead of dropping: all of it reaches the guest, byte-exact', async () => {
    const d = await startDaemon('', (dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }, { name: 'org.test.paste' }]));
    const { driver } = await connectGuest(join(d.dir, 'vm1.vhost.sock'));
    await waitFor(() => driver.portByName('org.test.paste'), 'the port in the guest');
    const port = driver.portByName('org.test.paste')!;
    // Deterministic bytes that do not start like a vtcon handshake (a raw client, as socat).
    const paste = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0, x = 1; i < paste.length; i++) paste[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    paste[0] = 0;
    const got: Buffer[] = [];
    let gotBytes = 0;
    port.on('data', (b) => {
      got.push(Buffer.from(b));
      gotBytes += b.length;
    });
    const sock = createConnection(join(d.dir, 'run', 'vm1', 'org.test.paste.sock'));
    await new Promise<void>((resolve) => sock.once('connect', resolve));
    sock.on('data', () => undefined);
    const written = new Promise<void>((resolve) => sock.end(paste, resolve));
    // The guest has not opened the port: the backlog fills and the writer is paused.
    const client = await ControlClient.connect(d.env.VTCON_SOCKET!);
    const info = async () => (await client.call<{ vms: { ports: { name: string; backlog: number; dropped: number }[] }[] }>('ls')).vms[0]!.ports.find((p) => p.name === 'org.test.paste')!;
    await waitFor(async () => (await info()).backlog > 512 * 1024, 'the backlog to fill');
    // Now the guest reads: everything arrives, in order, nothing dropped.
    await port.open();
    await waitFor(() => gotBytes >= paste.length, `4 MiB in the guest (${gotBytes} so far)`, 60_000);
    await written;
    expect(gotBytes).toBe(paste.length);
    expect(Buffer.concat(got).equals(paste)).toBe(true);
    expect((await info()).dropped).toBe(0);
    client.close();
    sock.destroy();
    await driver.detach();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  }, 120_000);
});

describe('reload', () => {
  it('applies every step it can, reports the one that failed with its reason, and logs it', async () => {
    const d = await startDaemon('', (dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    const cfg = readFileSync(d.configPath, 'utf8');
    writeFileSync(join(d.dir, 'not-a-dir'), '');
    // 'bad' (a logDir under a regular file) comes before 'good' and a new port of vm1.
    const bad = vmYaml(d.dir, 'bad', [{ name: 'console' }]).replace(join(d.dir, 'logs'), join(d.dir, 'not-a-dir', 'logs'));
    writeFileSync(d.configPath, cfg.replace('      - { name: console, console: true }', '      - { name: console, console: true }\n      - { name: extra, console: false }')
      + bad + vmYaml(d.dir, 'good', [{ name: 'console' }]));
    const client = await ControlClient.connect(d.env.VTCON_SOCKET!);
    const summary = await client.call<{ addedVms: string[]; addedPorts: string[]; failed: { step: string; reason: string; message: string }[] }>('reload');
    expect(summary.addedVms).toEqual(['good']);
    expect(summary.addedPorts).toEqual(['vm1:extra']);
    expect(summary.failed).toEqual([{ step: 'addVm bad', reason: 'SINK_FAILED', message: expect.stringMatching(/ENOTDIR/) }]);
    const ls = await client.call<{ vms: { name: string; ports: { name: string }[] }[] }>('ls');
    expect(ls.vms.map((v) => [v.name, v.ports.map((p) => p.name)])).toEqual([['vm1', ['console', 'extra']], ['good', ['console']]]);
    await waitFor(() => /"step":"addVm bad".*reload: step failed/.test(d.stderr()), 'the failed step in the daemon log');
    // A rejected config is logged too (SIGHUP has nobody else to tell).
    writeFileSync(d.configPath, 'vms: [');
    d.child.kill('SIGHUP');
    await waitFor(() => /reload failed, keeping the running fleet/.test(d.stderr()), 'the rejected reload in the daemon log');
    client.close();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});

describe('a crash', () => {
  it('leaves its trace in daemon.logFile as well as on stderr, and the holder starts the next engine', async () => {
    // A preloaded hook (the engine inherits the holder's node flags) that throws from the event
    // loop on SIGUSR2: an uncaught exception in the engine.
    const hook = `data:text/javascript,process.on('SIGUSR2',()=>setImmediate(()=>{throw new Error('boom-from-test')}))`;
    const d = await startDaemon('  logFile: LOGDIR/daemon.log\n', (dir) => vmYaml(dir, 'vm1', [{ name: 'console' }]), '', ['--import', hook]);
    const status = () => readHolderStatus(d.env.VTCON_SOCKET!)!;
    const engine = status().engine!.pid;
    process.kill(engine, 'SIGUSR2');
    await waitFor(() => status().restarts === 1 && status().engine !== null && status().engine!.pid !== engine, 'the next engine');
    expect(d.stderr()).toMatch(/boom-from-test/);
    const log = readFileSync(join(d.dir, 'daemon-logs', 'daemon.log'), 'utf8');
    expect(log).toMatch(/"level":60.*boom-from-test.*crash: uncaught exception/);
    expect(log).toMatch(/"stack":"Error: boom-from-test\\n/);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });
});
