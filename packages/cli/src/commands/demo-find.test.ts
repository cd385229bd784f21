// A second terminal finds a running demo without `export VTCON_SOCKET=…` (the README's
// `./vtcon attach demo1`), and a demo whose terminal closes (SIGHUP) removes its runtime dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlSocket, demoRecordPath, runningDemo } from '../cli/context.js';
import { BIN, runCli, tempDir, waitFor } from '../testing/binary.js';

describe('a running demo, from another terminal', () => {
  let xdg: string;
  let demo: ChildProcess;
  let out = '';
  const env = () => ({ XDG_RUNTIME_DIR: xdg, VTCON_SOCKET: '' });

  beforeAll(async () => {
    xdg = tempDir('vtcon-xdg-');
    demo = spawn(process.execPath, [BIN, 'demo', '--guests', '1', '--duration', '60', '--refresh', '60'], {
      env: { ...process.env, ...env(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    demo.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    await waitFor(() => out.includes('stats --watch') || demo.exitCode !== null, 'the demo\'s instructions', 20_000);
  });

  afterAll(async () => {
    if (demo.exitCode === null && demo.signalCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGINT');
      await exited;
    }
  });

  it('ls and attach demo1 find it with VTCON_SOCKET unset', () => {
    const ls = runCli(['ls'], env());
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toMatch(/demo1\s+connected/);
    const attach = runCli(['attach', 'demo1'], env(), '');
    expect(attach.code).toBe(0);
    expect(attach.stderr).toContain('attached to demo1:console as writer');
  });

  it('closing its terminal (SIGHUP) stops it and removes its runtime dir and its record', async () => {
    const runtimeDir = /runtime dir (\S+)/.exec(out)?.[1];
    expect(runtimeDir && existsSync(runtimeDir)).toBe(true);
    const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
    demo.kill('SIGHUP');
    expect(await exited).toBe(0);
    expect(existsSync(runtimeDir!)).toBe(false);
    expect(existsSync(demoRecordPath(env()))).toBe(false);
  });
});

describe('controlSocket', () => {
  it('prefers --socket, $VTCON_SOCKET and a daemon\'s default socket over a demo record', () => {
    const xdg = tempDir('vtcon-xdg-');
    const env = { XDG_RUNTIME_DIR: xdg };
    const demoSock = join(xdg, 'demo-control.sock');
    writeFileSync(demoSock, '');
    mkdirSync(join(xdg, 'vtcon'));
    writeFileSync(demoRecordPath(env), JSON.stringify({ pid: process.pid, control: demoSock, runtimeDir: xdg }));
    expect(controlSocket({}, env)).toBe(demoSock);
    expect(controlSocket({ socket: '/x.sock' }, env)).toBe('/x.sock');
    expect(controlSocket({}, { ...env, VTCON_SOCKET: '/y.sock' })).toBe('/y.sock');
    writeFileSync(join(xdg, 'vtcon', 'control.sock'), '');
    expect(controlSocket({}, env)).toBe(join(xdg, 'vtcon', 'control.sock'));
  });

  it('ignores the record of a demo that is gone', () => {
    const xdg = tempDir('vtcon-xdg-');
    const env = { XDG_RUNTIME_DIR: xdg };
    mkdirSync(join(xdg, 'vtcon'));
    writeFileSync(demoRecordPath(env), JSON.stringify({ pid: 2 ** 22 + 1, control: join(xdg, 'vtcon'), runtimeDir: xdg }));
    expect(runningDemo(env)).toBeUndefined();
    expect(controlSocket({}, env)).toBe(join(xdg, 'vtcon', 'control.sock'));
  });
});
