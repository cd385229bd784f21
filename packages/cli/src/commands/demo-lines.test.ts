// The lines `vtcon demo` prints under "From another terminal" run as printed, from the repository
// root, through the ./vtcon wrapper. The wrapper is the repository's own file, copied into a temp
// root whose node_modules and packages/cli/dist link to this checkout's (so it finds a fresh
// build and never rebuilds in the middle of a test).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, tempDir, waitFor, WRAPPER } from '../testing/binary.js';

describe('the demo\'s printed command lines, run from the repository root', () => {
  let root: string;
  let demo: ChildProcess;
  let out = '';
  let exportLine = '';
  const lines: string[] = [];
  const run = (line: string, follow = false) => {
    const r = spawnSync('bash', ['-c', `${exportLine}\n${follow ? 'timeout -s INT 2 ' : ''}${line}`], {
      cwd: root, env: { ...process.env, NO_COLOR: '1', VTCON_SOCKET: '' }, input: '', encoding: 'utf8', timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const line = (sub: string) => {
    const l = lines.find((x) => x.startsWith(`./vtcon ${sub}`));
    if (!l) throw new Error(`the demo printed no "./vtcon ${sub}" line:\n${out}`);
    return l;
  };

  beforeAll(async () => {
    root = tempDir('vtcon-root-');
    cpSync(WRAPPER, join(root, 'vtcon'));
    chmodSync(join(root, 'vtcon'), 0o755);
    symlinkSync(resolve(WRAPPER, '../node_modules'), join(root, 'node_modules'));
    mkdirSync(join(root, 'packages', 'cli'), { recursive: true });
    symlinkSync(resolve(BIN, '..'), join(root, 'packages', 'cli', 'dist'));
    demo = spawn('./vtcon', ['demo', '--guests', '1', '--duration', '60', '--refresh', '60'], {
      cwd: root, env: { ...process.env, NO_COLOR: '1', VTCON_SOCKET: '' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    demo.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    await waitFor(() => out.includes('stats --watch') || demo.exitCode !== null, 'the demo\'s instructions', 20_000);
    const block = out.slice(out.indexOf('From another terminal')).split('\n').slice(1);
    for (const l of block) {
      if (l.trim() === '') break;
      if (l.trim().startsWith('export ')) exportLine = l.trim();
      else lines.push(l.trim());
    }
  });

  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGINT');
      await exited;
    }
  });

  it('prints ./vtcon lines and an export of the demo\'s control socket', () => {
    expect(out).toContain('From another terminal in this directory:');
    expect(exportLine).toMatch(/^export VTCON_SOCKET=\/\S+\/control\.sock$/);
    expect(lines.length).toBe(6);
    for (const l of lines) expect(l).toMatch(/^\.\/vtcon /);
  });

  it('ls', () => {
    const r = run(line('ls'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/demo1\s+connected\s+console \(console\)/);
  });

  it('send, then logs -f shows the guest\'s answer', () => {
    expect(run(line('send')).code).toBe(0);
    const r = run(line('logs -f'), true);
    expect(r.code).toBe(124); // still following when timeout stopped it
    expect(r.stdout).toContain('echo hello\r\nhello\r\ndemo1:~# ');
  });

  it('attach (the writer) and attach --read-only', () => {
    const w = run(line('attach demo1 '));
    expect(w.code).toBe(0);
    expect(w.stderr).toContain('attached to demo1:console as writer');
    expect(w.stdout).toContain('demo1:~#');
    const r = run(line('attach demo1:console --read-only'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('as spectator (read-only)');
  });

  it('stats --watch', () => {
    const r = run(line('stats --watch'), true);
    expect(r.code).toBe(124);
    expect(r.stdout).toContain('demo1');
  });

  it('the demo stops on Ctrl-C and cleans up', async () => {
    const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('vtcon demo: stopped');
  });
});
