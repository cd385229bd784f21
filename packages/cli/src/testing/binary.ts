// Test support: run the built binary (dist/bin.js) in child processes, as a user would.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const BIN = resolve(fileURLToPath(import.meta.url), '../../../dist/bin.js');
/** The repository's `./vtcon` wrapper (installs, builds, then runs BIN). */
export const WRAPPER = resolve(fileURLToPath(import.meta.url), '../../../../../vtcon');

export interface RunResult { code: number | null; stdout: string; stderr: string }

// No client config of the machine's user: fleet mode only where a test asks for it.
const cliEnv = (env: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, NO_COLOR: '1', VTCON_CLIENT_CONFIG: '/nonexistent/vtcon-client.yaml', ...env });

export function runCli(args: string[], env: Record<string, string> = {}, input?: string): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: cliEnv(env),
    encoding: 'utf8',
    timeout: 20_000,
    ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** runCli without blocking this process's event loop: for a test that answers the CLI itself (say, on NATS). */
export function runCliAsync(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cliEnv(env), encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

const tempDirs: string[] = [];
// Registered when a test file imports this module, so it runs after that file's own afterAll hooks
// (vitest runs them last-registered first): daemons are stopped before their dirs go.
afterAll(() => {
  for (const d of tempDirs.splice(0)) removeDir(d);
});

/** rm -rf, retried: an engine whose holder was killed may still be writing its last log lines here. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}

/** A fresh directory under the OS temp dir, removed after the test file that made it. */
export function tempDir(prefix = 'vtcon-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * Polls `check` every 50 ms until it returns a truthy value or `timeoutMs` passes. `what` names
 * the wait in the timeout error; a function is called then, to say what was last seen.
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string | (() => string), timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ServeChild { child: ChildProcess; exited: Promise<number | null>; stderr(): string }

/**
 * `vtcon serve --config <configPath>` in a child process (state under `dir`), its stderr kept;
 * resolves once `ready(stderr)` holds, throws if the daemon exited first.
 */
export async function spawnServe(configPath: string, dir: string, ready: (stderr: string) => boolean, what: string, extraArgs: string[] = []): Promise<ServeChild> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath, ...extraArgs], {
    env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // A holder and then its engine start (two Node processes): generous on a loaded machine.
  await waitFor(() => ready(err) || child.exitCode !== null, what, 30_000);
  if (child.exitCode !== null) throw new Error(`vtcon serve exited: ${err}`);
  return { child, exited, stderr: () => err };
}

/** `vtcon guest name=socket…` (simulated guests, the seed driver model); `connected` once they all are. */
export function spawnGuests(specs: string[]): { child: ChildProcess; connected: Promise<void> } {
  const g = spawn(process.execPath, [BIN, 'guest', ...specs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  g.stderr!.setEncoding('utf8').on('data', (x: string) => (err += x));
  // Generous: on a loaded machine a Node process start plus a vhost-user handshake per VM can take seconds.
  const connected = waitFor(() => err.includes('connected') || g.exitCode !== null, () => `simulated guests to connect (their stderr: ${err.trim() || 'nothing'})`, 30_000).then(() => {
    if (g.exitCode !== null) throw new Error(`vtcon guest exited: ${err}`);
  });
  return { child: g, connected };
}

export interface Served {
  dir: string;
  configPath: string;
  env: Record<string, string>;
  child: ChildProcess;
  stderr(): string;
  /** Connects more simulated guests (`vtcon guest`: the seed driver model) to these VMs' sockets. */
  startGuests(names: string[]): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Writes a config with `vms` (YAML text for the vms: list), starts `vtcon serve` on it (the real
 * device stack: a VhostUserBackend per VM socket) and connects one simulated guest per VM with
 * `vtcon guest` (the seed's driver model over vhost-user), as QEMU + Linux would.
 */
export async function serve(vmsYaml: (dir: string) => string, extraArgs: string[] = []): Promise<Served> {
  const dir = tempDir();
  const control = join(dir, 'control.sock');
  const configPath = join(dir, 'fleet.yaml');
  writeFileSync(configPath, `daemon:\n  control: ${control}\n  runtimeDir: ${dir}\n  logLevel: info\nvms:\n${vmsYaml(dir)}`);
  const { child, exited, stderr } = await spawnServe(configPath, dir, () => existsSync(control), 'the daemon control socket', extraArgs);
  const guests: ChildProcess[] = [];
  const startGuests = async (names: string[]) => {
    const g = spawnGuests(names.map((n) => `${n}=${join(dir, n + '.vhost.sock')}`));
    guests.push(g.child);
    await g.connected;
  };
  const vmNames = [...vmsYaml(dir).matchAll(/^  - name: (\S+)$/gm)].map((m) => m[1]!);
  if (vmNames.length > 0) await startGuests(vmNames);
  return {
    startGuests,
    dir, configPath, child, env: { VTCON_SOCKET: control },
    stderr,
    stop: async (signal = 'SIGTERM') => {
      for (const g of guests) if (g.exitCode === null) g.kill('SIGTERM');
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function vmYaml(dir: string, name: string, ports: { name: string; console?: boolean }[], extra = ''): string {
  const p = ports.map((x) => `      - { name: ${x.name}, console: ${Boolean(x.console)} }`).join('\n');
  return `  - name: ${name}\n    socket: ${join(dir, name + '.vhost.sock')}\n    maxPorts: 8\n    ports:\n${p}\n    sinks: { logDir: ${join(dir, 'logs')} }\n${extra}`;
}

/**
 * A real install of the built CLI in a temp dir with a piece of the device stack missing, for the
 * tests of what `serve`/`demo` say then: 'packages' = no @vtcon/* packages at all; 'addon' = the
 * packages' dist/ copied without @vtcon/transport's compiled addon; 'daemon-deps' = only commander
 * and the NATS client (what the client commands may load). Returns the copied bin.js.
 */
export function installWithout(missing: 'packages' | 'addon' | 'daemon-deps'): string {
  const root = tempDir('vtcon-install-');
  const cli = resolve(BIN, '../..');
  const repoModules = resolve(cli, '../../node_modules');
  cpSync(join(cli, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(cli, 'package.json'), join(root, 'package.json'));
  mkdirSync(join(root, 'node_modules', '@vtcon'), { recursive: true });
  const deps = missing === 'daemon-deps' ? ['commander', '@nats-io'] : ['commander', 'yaml', 'zod', 'pino', 'piscina'];
  for (const dep of deps) symlinkSync(join(repoModules, dep), join(root, 'node_modules', dep));
  if (missing === 'addon') {
    for (const pkg of ['ring', 'transport', 'console']) {
      const from = resolve(cli, '..', pkg);
      cpSync(join(from, 'dist'), join(root, 'node_modules', '@vtcon', pkg, 'dist'), { recursive: true });
      cpSync(join(from, 'package.json'), join(root, 'node_modules', '@vtcon', pkg, 'package.json'));
    }
  }
  return join(root, 'dist', 'bin.js');
}
