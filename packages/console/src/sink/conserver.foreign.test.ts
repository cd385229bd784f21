/**
 * Real-peer test: Debian's conserver attaches to a vtcon attach socket as a `uds` console
 * (raw protocol), and an operator uses conserver's `console` client through it.
 * Needs the Debian packages conserver-server and conserver-client (scripts/apt-deps.sh).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AttachServer } from './attach.js';
import { Scrollback } from './scrollback.js';
import { until as waitUntil } from '../test-support/until.js';

const enc = (s: string) => new TextEncoder().encode(s);
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    // conserver forks a child per console group: end the whole process group we started.
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
  for (const f of cleanups.splice(0)) await f();
});

function requireTool(bin: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`]);
  if (r.status !== 0) {
    throw new Error(`${bin} is not installed: this test needs Debian's conserver-server and conserver-client; `
      + 'run `bash scripts/apt-deps.sh` from the repository root as root (or apt-get install conserver-server conserver-client)');
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const until = (cond: () => boolean | Promise<boolean>, what: () => string, ms = 15_000): Promise<void> => waitUntil(cond, { ms, what, tickMs: 20 });

/** The conserver.cf stanza documented in the README (paths filled in). */
export function conserverConfig(consoleName: string, attachSocket: string, logDir: string): string {
  return `config * {
  sslrequired no;
}
default * {
  rw *;
  master 127.0.0.1;
  logfile ${logDir}/&.log;
  timestamp "";
}
console ${consoleName} {
  type uds;
  uds ${attachSocket};
}
access * {
  trusted 127.0.0.1;
}
`;
}

describe('conserver uds console on a vtcon attach socket', () => {
  it('shows guest output through `console`, forwards typed input, and logs to conserver\'s log file', async () => {
    requireTool('conserver');
    requireTool('console');
    requireTool('script');
    const dir = await mkdtemp(join(tmpdir(), 'vtcon-cs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const sockPath = join(dir, 'vm1-console.sock');
    const input: string[] = [];
    const sb = new Scrollback({ capacityBytes: 64 * 1024 });
    const srv: AttachServer = await AttachServer.listen({
      path: sockPath,
      scrollback: sb,
      onInput: (b) => {
        const s = Buffer.from(b).toString('latin1');
        input.push(s);
        // A guest that echoes like a shell.
        sb.write(b, Date.now());
        srv.write(b, Date.now());
      },
    });
    cleanups.unshift(() => srv.close());
    await writeFile(join(dir, 'conserver.cf'), conserverConfig('vm1', sockPath, dir));
    await writeFile(join(dir, 'conserver.passwd'), '*any*:\n'); // empty password: no check
    const port = await freePort();

    const server = spawn('conserver', [
      '-C', join(dir, 'conserver.cf'), '-P', join(dir, 'conserver.passwd'),
      '-p', String(port), '-M', '127.0.0.1', '-E', '-L', join(dir, 'server.log'),
    ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let serverOut = '';
    server.stdout!.on('data', (b: Buffer) => (serverOut += b.toString()));
    server.stderr!.on('data', (b: Buffer) => (serverOut += b.toString()));

    // conserver connects to the uds at startup: it shows up as our raw writer.
    await until(() => srv.who().length === 1, () => `conserver to attach (its output: ${serverOut})`);
    expect(srv.who()[0]).toMatchObject({ protocol: 'raw', role: 'writer' });

    // The master forks the console's child before it listens: wait for the TCP port.
    await until(() => new Promise<boolean>((resolve) => {
      const t = connect(port, '127.0.0.1');
      t.once('connect', () => (t.destroy(), resolve(true)));
      t.once('error', () => resolve(false));
    }), () => `conserver to listen on ${port} (${serverOut})`);

    // `console` needs a terminal (it block-buffers otherwise): run it on a pty via script(1).
    const client = spawn('script', ['-qfec', `console -M 127.0.0.1 -p ${port} -E -l tester -f vm1`, '/dev/null'], {
      detached: true, stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(client);
    let screen = '';
    client.on('error', (e) => (screen += `[spawn error ${e.message}]`));
    client.stdout!.on('data', (b: Buffer) => (screen += b.toString('latin1')));
    client.stderr!.on('data', (b: Buffer) => (screen += b.toString('latin1')));
    await until(() => screen.includes('[Enter `^Ec?\' for help]'), () => `console to attach (screen: ${JSON.stringify(screen)}, client exit ${client.exitCode}, conserver: ${serverOut})`);

    // conserver forwards console output to a client only once its attach has settled (until
    // then output goes to the log only), so the guest keeps printing until the screen shows it.
    let ticks = 0;
    await until(() => {
      const seen = screen.includes('boot tick');
      if (!seen) {
        const line = `boot tick ${ticks++}\r\n`;
        sb.write(enc(line), Date.now());
        srv.write(enc(line), Date.now());
      }
      return seen;
    }, () => `guest output on the console screen (${JSON.stringify(screen)})`);

    const banner = 'vtcon guest: login: ';
    sb.write(enc(banner), Date.now());
    srv.write(enc(banner), Date.now());
    await until(() => screen.includes(banner), () => `guest output on the console screen (${JSON.stringify(screen)})`);

    client.stdin!.write('root\r');
    await until(() => input.join('') === 'root\r', () => `typed input at the guest (${JSON.stringify(input)})`);
    await until(() => screen.includes(`${banner}root`), () => 'echo on the screen');

    // Detach with conserver's escape (^Ec.), then check conserver's console log.
    const exited = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    client.stdin!.write('\x05c.');
    expect(await exited).toBe(0);
    await until(async () => (await readFile(join(dir, 'vm1.log'), 'latin1').catch(() => '')).includes(`${banner}root`),
      () => 'conserver log file');
    expect(input.join('')).toBe('root\r'); // the escape sequence never reached the guest
  });
});
