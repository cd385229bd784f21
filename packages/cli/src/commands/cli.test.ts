// The CLI as a user drives it: the built binary against a running `vtcon serve`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, serve, tempDir, vmYaml, waitFor, WRAPPER, type Served } from '../testing/binary.js';

describe('vtcon with a bad config', () => {
  it('names the field and its line, and exits 2', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'vms:\n  - name: web1\n    socket: /tmp/x.sock\n    ports:\n      - name: console\n        console: maybe\n');
    const r = runCli(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:6:18: vms[0].ports[0].console`);
    expect(r.stderr).toMatch(/fix the config file/);
  });

  it('refuses a YAML alias bomb with file:line and exit 2', () => {
    const file = join(tempDir(), 'bomb.yaml');
    const levels = ['a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    writeFileSync(file, levels.join('\n') + '\n');
    const r = runCli(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2:`);
    expect(r.stderr).toMatch(/aliases expand too far/);
  });

  it('reports a missing config file with exit 2', () => {
    const r = runCli(['serve', '--config', '/nonexistent/fleet.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read config \(ENOENT\)/);
  });
});

describe('vtcon without a daemon', () => {
  it('exits 3 and says how to start one', () => {
    const r = runCli(['ls'], { VTCON_SOCKET: join(tempDir(), 'none.sock') });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no daemon at .*none\.sock/);
    expect(r.stderr).toMatch(/vtcon serve --config FILE` or `vtcon demo`/);
  });

  it('exits 2 on a usage error', () => {
    expect(runCli(['resize', 'vm1:console', 'big']).code).toBe(2);
    expect(runCli(['frobnicate']).code).toBe(2);
  });
});

describe('vtcon against a running daemon (real vhost-user sockets, simulated guests)', () => {
  let d: Served;
  beforeAll(async () => {
    d = await serve((dir) => vmYaml(dir, 'web1', [{ name: 'console', console: true }, { name: 'org.vtcon.log' }]) + vmYaml(dir, 'db1', [{ name: 'console', console: true }]));
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('ls --json parses and matches the config', () => {
    const r = runCli(['ls', '--json'], d.env);
    expect(r.code).toBe(0);
    const { vms } = JSON.parse(r.stdout) as { vms: { name: string; socket: string; ports: { name: string; console: boolean }[] }[] };
    expect(vms.map((v) => v.name)).toEqual(['web1', 'db1']);
    expect(vms[0]!.socket).toBe(join(d.dir, 'web1.vhost.sock'));
    expect(vms[0]!.ports.map((p) => [p.name, p.console])).toEqual([['console', true], ['org.vtcon.log', false]]);
  });

  it('send reaches the guest and its echo appears in logs', async () => {
    expect(runCli(['send', 'web1:console', 'echo marker-42'], d.env).code).toBe(0);
    await waitFor(() => /\r\nmarker-42\r\n/.test(runCli(['logs', 'web1:console'], d.env).stdout), 'the echo in logs');
    // The guest's tty echoed the typed line, ran it, and prompted again. The echo follows either the
    // prompt or the guest's "[terminal is now …]" notice, whichever it printed last (a timing race).
    await waitFor(() => /(?:\r\n|web1:~# )echo marker-42\r\nmarker-42\r\nweb1:~# $/.test(runCli(['logs', 'web1:console'], d.env).stdout), 'the echoed line and the next prompt');
  });

  it('send --wait returns once the guest has the bytes', async () => {
    const r = runCli(['send', '--wait', '--json', 'web1:console', 'echo waited-7'], d.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ accepted: 14, bytes: 14, delivered: true, pending: 0 });
    await waitFor(() => /\r\nwaited-7\r\n/.test(runCli(['logs', 'web1:console'], d.env).stdout), 'the echo in logs');
  });

  it('the guest erases on backspace, and ignores it on an empty line', async () => {
    expect(runCli(['send', '--raw', 'web1:console', '\x7f'], d.env).code).toBe(0);
    expect(runCli(['send', '--raw', 'web1:console', 'ab\x7f\r'], d.env).code).toBe(0);
    // Nothing between the prompt and "ab": the DEL on the empty line echoed nothing.
    await waitFor(() => runCli(['logs', 'web1:console'], d.env).stdout.includes('web1:~# ab\b \b\r\nsh: a: not found\r\nweb1:~# '), 'the erased line run');
  });

  it('resize reaches the guest: it reports the new size, and stty size and ls agree', async () => {
    expect(runCli(['resize', 'web1:console', '120x40'], d.env).code).toBe(0);
    await waitFor(() => runCli(['logs', 'web1:console'], d.env).stdout.includes('[web1: terminal is now 120x40]'), 'the guest noticing the resize');
    runCli(['send', 'web1:console', 'stty size'], d.env);
    await waitFor(() => /stty size\r\n40 120\r\n/.test(runCli(['logs', 'web1:console'], d.env).stdout), 'stty size in the guest');
    const { vms } = JSON.parse(runCli(['ls', '--json'], d.env).stdout) as { vms: { name: string; ports: { name: string; size: unknown }[] }[] };
    expect(vms.find((v) => v.name === 'web1')!.ports.find((p) => p.name === 'console')!.size).toEqual({ cols: 120, rows: 40 });
  });

  it('logs -f follows while the guest writes', async () => {
    const child = spawn(process.execPath, [BIN, 'logs', '-f', 'db1:console'], { env: { ...process.env, ...d.env } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    try {
      await waitFor(() => out.includes('Welcome to db1'), 'the history');
      runCli(['send', 'db1:console', 'echo first-followed'], d.env);
      await waitFor(() => out.includes('first-followed\r\n'), 'followed output');
      runCli(['send', 'db1:console', 'echo later'], d.env);
      await waitFor(() => out.includes('later\r\n'), 'more followed output');
    } finally {
      child.kill('SIGINT');
    }
  });

  it('unknown VM and port exit 4', () => {
    expect(runCli(['send', 'nope:console', 'x'], d.env).code).toBe(4);
    expect(runCli(['logs', 'web1:nope'], d.env).code).toBe(4);
  });

  it('port add and remove change ls', () => {
    expect(runCli(['port', 'add', 'db1', 'extra'], d.env).code).toBe(0);
    const names = () => (JSON.parse(runCli(['ls', '--json'], d.env).stdout) as { vms: { name: string; ports: { name: string }[] }[] }).vms.find((v) => v.name === 'db1')!.ports.map((p) => p.name);
    expect(names()).toEqual(['console', 'extra']);
    expect(runCli(['port', 'remove', 'db1', 'extra'], d.env).code).toBe(0);
    expect(names()).toEqual(['console']);
  });

  it('break sends the configured sequence (linux-sysrq: ^O then the key)', () => {
    const r = runCli(['break', 'web1:console', '--key', 's', '--json'], d.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sequence: [0x0f, 0x73] });
  });

  it('who with nobody attached says so', () => {
    expect(runCli(['who', 'web1:org.vtcon.log'], d.env).stdout).toBe('nobody is attached to web1:org.vtcon.log\n');
  });

  it('resize of a non-console port is refused with exit 2', () => {
    const r = runCli(['resize', 'web1:org.vtcon.log', '100x40'], d.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a console port/);
  });

  it('prints no colour escapes when stdout is not a terminal', () => {
    const r = runCli(['ls'], { ...d.env, NO_COLOR: '' });
    expect(r.stdout).toContain('web1');
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('stats --watch --json streams snapshots', async () => {
    const child = spawn(process.execPath, [BIN, 'stats', '--watch', '--json', '--interval', '200'], { env: { ...process.env, ...d.env } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    try {
      await waitFor(() => out.split('\n').filter(Boolean).length >= 3, 'three snapshots');
      const snaps = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { at: string; vms: unknown[] });
      expect(snaps[0]!.vms).toHaveLength(2);
      expect(Date.parse(snaps[2]!.at)).toBeGreaterThan(Date.parse(snaps[0]!.at));
    } finally {
      child.kill('SIGINT');
    }
  });

  it('a second daemon on the same control socket refuses to start', () => {
    const r = runCli(['serve', '--config', d.configPath]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a daemon is already running at .*control\.sock/);
  });

  it('stats --json reports bytes per port', () => {
    const s = JSON.parse(runCli(['stats', '--json'], d.env).stdout) as { workers: { alive: boolean }[]; vms: { name: string; ports: { bytesIn: number }[] }[] };
    // The real fleet services port queues on the configured piscina workers (2 by default).
    expect(s.workers.filter((w) => w.alive)).toHaveLength(2);
    expect(s.vms.find((v) => v.name === 'web1')!.ports[0]!.bytesIn).toBeGreaterThan(0);
  });
});

describe('send --wait to a VM whose guest is not running', () => {
  it('exits 1 after --timeout, and the bytes stay queued for the guest', async () => {
    // Written so serve()'s "  - name: X" pattern does not match: no simulated guest for this VM.
    const d = await serve((dir) => vmYaml(dir, 'ghost', [{ name: 'console', console: true }]).replace(/^  - name: ghost\n    socket: (.*)$/m, '  - socket: $1\n    name: ghost'));
    try {
      const r = runCli(['send', '--wait', '--timeout', '0.3', '--json', 'ghost:console', 'hello'], d.env);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 6, delivered: false, pending: 6 });
      expect(r.stderr).toMatch(/the guest took 0 of 6 bytes within 0.3 s; the rest stay queued/);
      const { vms } = JSON.parse(runCli(['ls', '--json'], d.env).stdout) as { vms: { name: string; ports: { name: string; backlog: number }[] }[] };
      expect(vms.find((v) => v.name === 'ghost')!.ports[0]!.backlog).toBe(6);
      expect(runCli(['send', '--wait', '--timeout', 'soon', 'ghost:console', 'x'], d.env).code).toBe(2);
    } finally {
      await d.stop();
    }
  });
});

describe('a port log the disk refuses', () => {
  it('is reported by ls, and the port goes on (scrollback, send)', async () => {
    // The console's log file is a symlink to /dev/full: it opens, and every write fails (ENOSPC).
    const d = await serve((dir) => {
      const logs = join(dir, 'logs', 'full1');
      mkdirSync(logs, { recursive: true });
      if (!existsSync(join(logs, 'console.log'))) symlinkSync('/dev/full', join(logs, 'console.log'));
      return vmYaml(dir, 'full1', [{ name: 'console', console: true }]);
    });
    try {
      type Ls = { vms: { name: string; ports: { name: string; logError: string | null }[] }[] };
      const port = () => (JSON.parse(runCli(['ls', '--json'], d.env).stdout) as Ls).vms[0]!.ports[0]!;
      await waitFor(() => port().logError !== null, 'the log failure in ls');
      expect(port().logError).toMatch(/LOG_WRITE_FAILED: .*ENOSPC/);
      expect(runCli(['ls'], d.env).stdout).toMatch(/full1:console: log file not written: .*ENOSPC/);
      expect(runCli(['send', '--wait', 'full1:console', 'echo still-here'], d.env).code).toBe(0);
      await waitFor(() => /\r\nstill-here\r\n/.test(runCli(['logs', 'full1:console'], d.env).stdout), 'the echo in scrollback');
      // The daemon's stderr arrives through a pipe: wait for the line rather than read it at once.
      await waitFor(() => /port log failed/.test(d.stderr()), 'the log failure in the daemon\'s log');
    } finally {
      await d.stop();
    }
  });
});

describe('vtcon demo', () => {
  it('runs guests for --duration, prints how to attach and the fleet table, then cleans up', () => {
    const dir = join(tempDir(), 'rt');
    // As the repository's ./vtcon wrapper starts it; from elsewhere than the repo root the
    // printed lines name the wrapper by its absolute path.
    const r = runCli(['demo', '--guests', '2', '--ports', '2', '--duration', '3', '--refresh', '1', '--runtime-dir', dir], { VTCON_WRAPPER: WRAPPER, VTCON_SOCKET: '' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`export VTCON_SOCKET=${join(dir, 'control.sock')}`);
    expect(r.stdout).toMatch(/vtcon attach demo1 /);
    expect(r.stdout).toContain(`  ${WRAPPER} attach demo1 `);
    expect(r.stdout).toContain('guests: the seed driver model over real vhost-user sockets');
    expect(r.stdout).toMatch(/demo2\s+connected\s+console \(console\)/);
    expect(r.stdout).toContain('vtcon demo: stopped');
  });
});

describe('daemon signals', () => {
  it('SIGTERM leaves complete log files and exits 0', async () => {
    const d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    const lines = Array.from({ length: 300 }, (_, i) => `echo line-${i + 1}`).join('\r');
    runCli(['send', 'vm1:console', lines], d.env);
    await waitFor(() => runCli(['logs', '-n', '3', 'vm1:console'], d.env).stdout.includes('\r\nline-300\r\n'), 'the guest output', 20_000);
    expect(await d.stop('SIGTERM')).toBe(0);
    const log = readFileSync(join(d.dir, 'logs', 'vm1', 'console.log'), 'utf8');
    // Every line the guest wrote is in the file, in order, through the last prompt.
    for (let i = 1; i <= 300; i++) expect(log).toContain(`\r\nline-${i}\r\n`);
    expect(log).toMatch(/echo line-300\r\nline-300\r\nvm1:~# $/);
  });

  it('SIGHUP adds and removes ports on a running VM, and keeps a bad config from replacing a good one', async () => {
    const d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }, { name: 'old' }]));
    const ports = () => (JSON.parse(runCli(['ls', '--json'], d.env).stdout) as { vms: { ports: { name: string }[] }[] }).vms[0]!.ports.map((p) => p.name);
    try {
      writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace('name: old,', 'name: new,'));
      d.child.kill('SIGHUP');
      await waitFor(() => ports().join() === 'console,new', 'the port swap');
      writeFileSync(d.configPath, 'vms: [ {name: broken');
      d.child.kill('SIGHUP');
      await waitFor(() => /reload failed, keeping the running fleet/.test(d.stderr()), 'the rejected reload in the daemon log');
      expect(ports()).toEqual(['console', 'new']);
    } finally {
      await d.stop();
    }
  });

  it('logs --all reads the log file history', async () => {
    const d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    try {
      runCli(['send', 'vm1:console', 'echo from-the-file'], d.env);
      await waitFor(() => runCli(['logs', '--all', 'vm1:console'], d.env).stdout.includes('from-the-file\r\n'), 'the line in the log file');
      expect(runCli(['logs', '--all', '-n', '1', 'vm1:console'], d.env).stdout).toBe('vm1:~# ');
    } finally {
      await d.stop();
    }
  });

  it('logs --all prints a history longer than one daemon reply (4 MiB) whole, reading the files itself', async () => {
    const d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    try {
      runCli(['send', 'vm1:console', 'echo in-the-live-file'], d.env);
      await waitFor(() => runCli(['logs', '--all', 'vm1:console'], d.env).stdout.includes('in-the-live-file\r\n'), 'the line in the log file');
      const logFile = /log file: (.*)/.exec(runCli(['logs', '--all', '--verbose', 'vm1:console'], d.env).stderr)![1]!;
      const older = `oldest-line\n${'x'.repeat(6 * 1024 * 1024)}\n`;
      writeFileSync(`${logFile}.1`, older);
      const r = spawnSync(process.execPath, [BIN, 'logs', '--all', 'vm1:console'], {
        env: { ...process.env, NO_COLOR: '1', VTCON_CLIENT_CONFIG: '/nonexistent/vtcon-client.yaml', ...d.env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 20_000,
      });
      expect(r.stdout.startsWith(older)).toBe(true);
      expect(r.stdout.endsWith(readFileSync(logFile, 'utf8'))).toBe(true);
    } finally {
      await d.stop();
    }
  });

  it('SIGHUP reloads the config and adds a VM without touching the others', async () => {
    const d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    try {
      runCli(['send', 'vm1:console', 'echo before-reload'], d.env);
      const cfg = readFileSync(d.configPath, 'utf8');
      writeFileSync(d.configPath, cfg + vmYaml(d.dir, 'vm2', [{ name: 'console', console: true }]));
      d.child.kill('SIGHUP');
      await waitFor(() => runCli(['ls', '--json'], d.env).stdout.includes('"vm2"'), 'vm2 in ls');
      // vm1 kept its scrollback: it was not re-created.
      expect(runCli(['logs', 'vm1:console'], d.env).stdout).toContain('before-reload');
    } finally {
      await d.stop();
    }
  });
});

describe('VTCON_SOCKET', () => {
  it('serve listens on it when the config names no control socket, and clients find it there', async () => {
    const dir = tempDir();
    const control = join(dir, 'exported.sock');
    const configPath = join(dir, 'fleet.yaml');
    writeFileSync(configPath, `daemon:\n  runtimeDir: ${dir}\nvms:\n${vmYaml(dir, 'vm1', [{ name: 'console', console: true }])}`);
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], { env: { ...process.env, VTCON_SOCKET: control, XDG_STATE_HOME: join(dir, 'state') }, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => existsSync(control) || child.exitCode !== null, 'the control socket at $VTCON_SOCKET');
      const r = runCli(['ls', '--json'], { VTCON_SOCKET: control });
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { vms: { name: string }[] }).vms.map((v) => v.name)).toEqual(['vm1']);
      // --socket wins over the environment.
      expect(runCli(['--socket', control, 'ls'], { VTCON_SOCKET: join(dir, 'elsewhere.sock') }).code).toBe(0);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
