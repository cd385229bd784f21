// serve and demo where the device stack is not there: a real install of the built CLI with a piece
// really missing (testing/binary.ts installWithout). No fallback: exit 1, the missing piece named,
// the fix spelled out, and nothing left listening or lying around.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installWithout, tempDir, vmYaml } from '../testing/binary.js';

function run(bin: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1', VTCON_SOCKET: '', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function fleetConfig(): { file: string; control: string } {
  const dir = tempDir();
  const control = join(dir, 'control.sock');
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, `daemon:\n  control: ${control}\n  runtimeDir: ${dir}\nvms:\n${vmYaml(dir, 'vm1', [{ name: 'console', console: true }])}`);
  return { file, control };
}

describe('without the @vtcon packages', () => {
  let bin: string;
  beforeAll(() => {
    bin = installWithout('packages');
  });

  it('serve exits 1 naming the package and how to build it, and listens on nothing', () => {
    const { file, control } = fleetConfig();
    const r = run(bin, ['serve', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vtcon: the device stack is not available: @vtcon\/transport could not be loaded \(Cannot find package '@vtcon\/transport'/);
    expect(r.stderr).toMatch(/npm ci && npx nx run @vtcon\/cli:build.*\.\/vtcon/);
    expect(existsSync(control)).toBe(false);
  });

  it('demo exits 1 the same way and removes its temp runtime dir', () => {
    const tmp = tempDir();
    const r = run(bin, ['demo', '--duration', '1'], { TMPDIR: tmp });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the device stack is not available: @vtcon\/transport could not be loaded/);
    expect(r.stdout).not.toContain('From another terminal');
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('client commands do not need the stack', () => {
    const r = run(bin, ['ls'], { VTCON_SOCKET: join(tempDir(), 'none.sock') });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no daemon at/);
  });
});

describe('without the native addon', () => {
  it('serve and demo exit 1 with "native addon not built" and the command that builds it', () => {
    const bin = installWithout('addon');
    const { file } = fleetConfig();
    const serve = run(bin, ['serve', '--config', file]);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/vtcon: native addon not built: .*no native addon for Node v\d+.*build-for-node\.sh/);
    expect(serve.stderr).toMatch(/run `npm ci` from the repository root/);
    const rt = join(tempDir(), 'rt');
    mkdirSync(rt);
    const demo = run(bin, ['demo', '--duration', '1', '--runtime-dir', rt]);
    expect(demo.code).toBe(1);
    expect(demo.stderr).toMatch(/native addon not built/);
  });
});

describe('the client commands', () => {
  // `vtcon ls` (local or --nats) is run interactively and across a fleet; it must not pay for the
  // daemon's modules (config parser, pino, piscina, the device stack). An install with only
  // commander and the NATS client shows any static import of them as a crash.
  it('start without the daemon\'s modules (only commander and the NATS client installed)', () => {
    const bin = installWithout('daemon-deps');
    const env = { VTCON_CLIENT_CONFIG: '/nonexistent/client.yaml' };
    expect(run(bin, ['--version'], env)).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const local = run(bin, ['ls'], { ...env, VTCON_SOCKET: join(tempDir(), 'absent.sock') });
    expect(local.code).toBe(3);
    expect(local.stderr).not.toMatch(/Cannot find (package|module)/);
    for (const args of [['--nats', 'nats://127.0.0.1:1', 'ls'], ['--nats', 'nats://127.0.0.1:1', 'logs', 'h/vm:console']]) {
      const r = run(bin, args, env);
      expect(r.stderr).toContain('cannot reach NATS');
      expect(r.code).toBe(3);
    }
  });
});
