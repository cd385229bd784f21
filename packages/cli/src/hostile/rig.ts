// The hostile-peer rig: a real `vtcon serve` (the built CLI in a child process) serving 3 VMs on
// vhost-user sockets in a temp dir, a VICTIM guest (the seed driver model over a real socket, in
// this process) streaming numbered lines through a port, a probe asking the control API `ls`
// every 100 ms, and the daemon's fd count and RSS read from /proc. An attack test starts a rig,
// takes the baseline, attacks the TARGET VM (or the API), lets go, and calls finish(): every
// promise the daemon makes to the other VMs is checked there and reported as one list of problems.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { connectGuest, type VtconDriver, type VtconPort } from '@vtcon/console/testing';
import { ControlClient } from '../control/client.js';
import { readHolderStatus } from '../cli/holder-status.js';
import { BIN, removeDir, tempDir, waitFor } from '../testing/binary.js';

/** The rig's bounds: what "the daemon still serves everyone else" means in numbers. */
export const LIMITS = { lsMs: 1000, stallMs: 1000, rssGrowthBytes: 32 * 1024 * 1024, settleMs: 5000 } as const;

export const VICTIM = 'victim';
export const TARGET = 'target';
export const BYSTANDER = 'bystander';
export const VICTIM_PORT = 'org.test.stream';

export interface RigOptions {
  /** daemon.logFile; default <dir>/daemon.log. */
  logFile?: string;
  /** Run the daemon under this umask (default: the test runner's). */
  umask?: number;
  /** Run the daemon with this RLIMIT_NOFILE (soft and hard; default: the test runner's). */
  nofile?: number;
  /** The TARGET VM's sinks.logDir (default <dir>/logs, like the others). */
  targetLogDir?: (dir: string) => string;
}

export interface Sample { fds: number; rss: number }

export interface Rig {
  dir: string;
  control: string;
  daemonLog: string;
  child: ChildProcess;
  /** The engine serving the VMs (under `serve`'s holder); an engine restart counts as a crash. */
  readonly enginePid: number;
  socketOf(vm: string): string;
  logOf(vm: string, port: string): string;
  /** One control API call on a fresh connection (as `vtcon` does), bounded by timeoutMs. */
  api<T = unknown>(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  sample(): Sample;
  /** Baseline fds/RSS, taken once the victim streams and the probe runs. */
  readonly baseline: Sample;
  /** The attacker has let go: settle, stop the victim and probe, return every broken promise. */
  finish(): Promise<{ problems: string[]; figures: Figures }>;
  stop(): Promise<void>;
}

export interface Figures {
  before: Sample; after: Sample; maxLsMs: number; maxStallMs: number; victimBytes: number; exitCode: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function vmYaml(dir: string, name: string, ports: string[], logDir = join(dir, 'logs')): string {
  const p = ports.map((x) => `      - { name: ${x}, console: ${x === 'console'} }`).join('\n');
  return `  - name: ${name}\n    socket: ${join(dir, name + '.vhost.sock')}\n    maxPorts: 8\n    ports:\n${p}\n`
    + `    sinks: { logDir: ${logDir}, rotateBytes: 1073741824 }\n`;
}

function readSample(pid: number): Sample {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { fds, rss: Number(m?.[1] ?? 0) * 1024 };
}

/** Numbered lines, ~4 KiB a chunk: a missing, doubled or torn byte shows in the hash and the diff. */
function chunk(n: number): Buffer {
  let s = '';
  for (let i = 0; i < 372; i++) s += `${String(n * 372 + i).padStart(10, '0')}\n`;
  return Buffer.from(s);
}

/** The victim: writes chunk after chunk, each awaited (used = in the log), timing every acknowledgment. */
class Victim {
  private hash = createHash('sha256');
  bytes = 0;
  maxStallMs = 0;
  error: Error | null = null;
  private running = true;
  private loop: Promise<void>;

  constructor(readonly driver: VtconDriver, private readonly port: VtconPort) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let last = Date.now();
    for (let n = 0; this.running; n++) {
      const c = chunk(n);
      try {
        await this.port.write(c);
      } catch (e) { this.error = e as Error; return; }
      this.hash.update(c);
      this.bytes += c.length;
      const now = Date.now();
      this.maxStallMs = Math.max(this.maxStallMs, now - last);
      await sleep(2);
      last = Date.now();
    }
  }

  /** Stops writing; resolves with the sha256 of every acknowledged byte. */
  async stop(): Promise<string> {
    this.running = false;
    await Promise.race([this.loop, sleep(5000)]);
    return this.hash.digest('hex');
  }
}

/** `ls` every 100 ms on a fresh connection; one in flight at a time, its age counted while it waits. */
class Probe {
  maxMs = 0;
  failures: string[] = [];
  private running = true;
  private inflightSince = 0;
  private loop: Promise<void>;

  constructor(private readonly call: (timeoutMs: number) => Promise<unknown>) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      this.inflightSince = t0;
      try { await this.call(5000); } catch (e) { if (this.failures.length < 3) this.failures.push((e as Error).message); }
      this.inflightSince = 0;
      this.maxMs = Math.max(this.maxMs, Date.now() - t0);
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  }

  async stop(): Promise<number> {
    this.running = false;
    if (this.inflightSince) this.maxMs = Math.max(this.maxMs, Date.now() - this.inflightSince);
    await Promise.race([this.loop, sleep(6000)]);
    return this.maxMs;
  }
}

async function apiCall<T>(control: string, method: string, params: Record<string, unknown>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let client: ControlClient | null = null;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${method}: no answer within ${timeoutMs} ms`)), timeoutMs); });
  try {
    return await Promise.race([(async () => {
      client = await ControlClient.connect(control, timeoutMs);
      return client.call<T>(method, params);
    })(), timeout]);
  } finally {
    clearTimeout(timer);
    (client as ControlClient | null)?.close();
  }
}

/** Start the daemon, connect the victim and start it streaming, start the probe, take the baseline. */
export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const dir = tempDir('vtcon-hostile-');
  const control = join(dir, 'control.sock');
  const daemonLog = opts.logFile ?? join(dir, 'daemon.log');
  const configPath = join(dir, 'fleet.yaml');
  writeFileSync(configPath, `daemon:\n  control: ${control}\n  runtimeDir: ${join(dir, 'run')}\n  logLevel: info\n  logFile: ${daemonLog}\nvms:\n`
    + vmYaml(dir, VICTIM, ['console', VICTIM_PORT])
    + vmYaml(dir, TARGET, ['console', 'org.test.a'], opts.targetLogDir?.(dir))
    + vmYaml(dir, BYSTANDER, ['console']));
  const args = [BIN, 'serve', '--config', configPath];
  const env = { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') };
  const limits = [
    ...(opts.umask === undefined ? [] : [`umask ${opts.umask.toString(8)}`]),
    ...(opts.nofile === undefined ? [] : [`ulimit -n ${opts.nofile}`]),
  ];
  const child = limits.length === 0
    ? spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('/bin/sh', ['-c', `${limits.join('; ')}; exec "$0" "$@"`, process.execPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 65536) stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? 128 : null))));
  let victim: Victim | null = null;
  let probe: Probe | null = null;
  const api = <T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 5000) => apiCall<T>(control, method, params, timeoutMs);

  const stop = async () => {
    await probe?.stop().catch(() => 0);
    await victim?.stop().catch(() => '');
    await victim?.driver.detach().catch(() => undefined);
    // SIGKILL: a clean shutdown is not what these tests check, and a hung daemon ignores SIGTERM.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    // The holder is gone; its engines notice and exit on their own, maybe still writing here.
    removeDir(dir);
  };

  try {
    await waitFor(async () => child.exitCode !== null || (existsSync(control) && await api('ping', {}, 2000).then(() => true, () => false)), 'the daemon to answer', 15_000);
    if (child.exitCode !== null) throw new Error(`vtcon serve exited ${child.exitCode}: ${stderr}`);
    const { driver } = await connectGuest(join(dir, `${VICTIM}.vhost.sock`), { txChunk: 4096, pollTimeoutMs: 3000 });
    const port = (await waitFor(() => driver.portByName(VICTIM_PORT), `port ${VICTIM_PORT} in the victim`))!;
    await port.open();
    victim = new Victim(driver, port);
    probe = new Probe((t) => api('ls', {}, t));
    await sleep(600);
  } catch (e) {
    await stop();
    throw e;
  }
  // `serve` is a holder and an engine: the engine is what an attack aims at and what is sampled.
  // The holder would hide an engine crash by starting the next one: a restart is a crash here.
  const holder = () => readHolderStatus(control);
  const pid = holder()?.engine?.pid ?? child.pid!;
  const sample = () => readSample(pid);
  // A probe's connection may be open at any one sample: the baseline fd count is the most common
  // of ten samples over half a second, taken once two such windows in a row agree (what the
  // daemon opens as the victim's traffic starts, a worker's loop or a log, is in by then).
  const window = async (): Promise<Sample> => {
    const samples: Sample[] = [];
    for (let i = 0; i < 10; i++) { samples.push(sample()); await sleep(50); }
    const count = (n: number) => samples.filter((x) => x.fds === n).length;
    return samples.reduce((a, b) => (count(b.fds) > count(a.fds) ? b : a));
  };
  let baseline = await window();
  for (let i = 0; i < 5; i++) {
    const next = await window();
    if (next.fds === baseline.fds) break;
    baseline = next;
  }
  const v = victim, p = probe;

  const finish = async (): Promise<{ problems: string[]; figures: Figures }> => {
    const problems: string[] = [];
    const engineSame = () => { const h = holder(); return h === null || (h.restarts === 0 && h.engine?.pid === pid); };
    const alive = () => child.exitCode === null && child.signalCode === null && engineSame();
    // Settle: fds exactly back, RSS within bounds (the victim keeps streaming meanwhile).
    let after = baseline;
    const deadline = Date.now() + LIMITS.settleMs;
    while (alive()) {
      after = sample();
      if (after.fds === baseline.fds && after.rss <= baseline.rss + LIMITS.rssGrowthBytes) break;
      if (Date.now() > deadline) break;
      await sleep(100);
    }
    const maxLsMs = await p.stop();
    const digest = await v.stop();
    if (!alive()) problems.push(`the daemon exited (code ${child.exitCode}, signal ${child.signalCode}${engineSame() ? '' : `; engine ${pid} gone: ${holder()?.lastExit ?? '?'}`}): ${crashLine(stderr)}`);
    else {
      if (after.fds !== baseline.fds) problems.push(`daemon fds ${baseline.fds} before, ${after.fds} after settling`);
      if (after.rss > baseline.rss + LIMITS.rssGrowthBytes) problems.push(`daemon RSS ${mib(baseline.rss)} before, ${mib(after.rss)} after settling`);
    }
    if (maxLsMs >= LIMITS.lsMs) problems.push(`ls took ${maxLsMs} ms at worst${p.failures.length ? ` (${p.failures.join('; ')})` : ''}`);
    if (v.error) problems.push(`victim write failed after ${v.bytes} bytes: ${v.error.message}`);
    if (v.maxStallMs >= LIMITS.stallMs) problems.push(`victim stalled ${v.maxStallMs} ms`);
    const log = existsSync(logOf(VICTIM, VICTIM_PORT)) ? readFileSync(logOf(VICTIM, VICTIM_PORT)) : Buffer.alloc(0);
    // Every acknowledged byte is in the log, in order; only a write in flight when the daemon
    // died may follow them ("log before used").
    const exact = v.error ? log.length >= v.bytes : log.length === v.bytes;
    if (!exact || createHash('sha256').update(log.subarray(0, v.bytes)).digest('hex') !== digest) {
      problems.push(`victim log not byte-exact: ${v.bytes} bytes acknowledged, ${log.length} in the log`);
    }
    return { problems, figures: { before: baseline, after, maxLsMs, maxStallMs: v.maxStallMs, victimBytes: v.bytes, exitCode: child.exitCode } };
  };

  function logOf(vm: string, port: string): string { return join(dir, 'logs', vm, `${port}.log`); }

  return {
    dir, control, daemonLog, child, enginePid: pid, baseline, api, sample, finish, stop,
    socketOf: (vm) => join(dir, `${vm}.vhost.sock`),
    logOf,
  };
}

/** The line of a crash trace that says what was thrown (and the reason line after it, if any). */
function crashLine(stderr: string): string {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => /^\S*(Error|Exception)\b|^node:|Uncaught/.test(l));
  if (i < 0) return stderr.slice(-300).trim() || '(nothing on stderr)';
  const reason = lines.slice(i, i + 12).find((l) => /reason:/.test(l));
  return [lines[i]!.trim(), reason?.trim()].filter(Boolean).join(' ');
}

export function mib(n: number): string { return `${(n / 1048576).toFixed(1)} MiB`; }

/** The daemon log's lines (JSON) that mention `what`; [] if the log is unreadable. */
export function logLines(rig: Rig, match: (l: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  let text = '';
  try { text = readFileSync(rig.daemonLog, 'utf8'); } catch { return []; }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try { const o = JSON.parse(line) as Record<string, unknown>; if (match(o)) out.push(o); } catch { /* a torn last line */ }
  }
  return out;
}

/** Waits (up to timeoutMs: the daemon log is written asynchronously) for a warn/error line about `vm`. */
export async function waitForLogLine(rig: Rig, vm: string, extra: (l: Record<string, unknown>) => boolean = () => true, timeoutMs = 3000): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logLines(rig, (l) => l.vm === vm && Number(l.level) >= 40 && extra(l))[0];
    if (hit || Date.now() > deadline) return hit ?? null;
    await sleep(100);
  }
}

/**
 * Per-test lifecycle: start() a rig, defer() any cleanup of the attacker's; afterEach runs the
 * cleanups (attacker first), stops the daemon (SIGKILL if SIGTERM is not enough) and removes the
 * temp dir, whatever the test did.
 */
export function rigPerTest(): { start(o?: RigOptions): Promise<Rig>; defer(fn: () => unknown): void } {
  let rig: Rig | null = null;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) { try { await c(); } catch { /* best effort */ } }
    await rig?.stop();
    rig = null;
  });
  return {
    start: async (o) => (rig = await startRig(o)),
    defer: (fn) => { cleanups.push(fn); },
  };
}

/**
 * The verdict: the rig's own checks (finish()) plus the attack's, as one list that must be empty.
 * With HOSTILE_FIGURES=<file>, each test's figures are appended to it as a JSON line.
 */
export async function verdict(rig: Rig, name: string, attackProblems: string[]): Promise<void> {
  const { problems, figures } = await rig.finish();
  const all = [...attackProblems, ...problems];
  if (process.env.HOSTILE_FIGURES) appendFileSync(process.env.HOSTILE_FIGURES, JSON.stringify({ name, ...figures, problems: all }) + '\n');
  expect(all).toEqual([]);
}

/** Polls `ok` every 50 ms for up to `ms`: true once it holds, false when time is up. */
export async function waitUntil(ok: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) { if (Date.now() > deadline) return false; await sleep(50); }
  return true;
}

export { sleep };
