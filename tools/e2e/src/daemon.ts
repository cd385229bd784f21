// The real vtcon daemon for e2e tests: the built CLI (packages/cli/dist/bin.js) run as a child
// process with a config written to a temporary folder, its control socket, the `vtcon` commands
// the suite checks (run as separate processes, output parsed from --json), and stop/kill/restart.
// Everything a daemon writes (its structured log on stderr, stdout) goes to one file in its folder,
// which a failed test prints. Build the CLI first: `npx nx run @vtcon/cli:build`.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { e2eTempDir } from './tmp.js';

/** packages/cli/dist/bin.js of this checkout (VTCON_E2E_CLI overrides). */
export function cliPath(): string {
  const fromEnv = process.env.VTCON_E2E_CLI;
  const p = fromEnv ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'dist', 'bin.js');
  if (!existsSync(p)) throw new Error(`vtcon CLI not built (${p} missing): run \`npx nx run @vtcon/cli:build\` first`);
  return p;
}

export interface PortSpec {
  name: string;
  console?: boolean;
}

export interface VmSpec {
  name: string;
  ports: PortSpec[];
  maxPorts?: number;
  resizeOrder?: 'cols-rows' | 'rows-cols';
}

export interface DaemonOptions {
  vms: VmSpec[];
  logLevel?: 'info' | 'debug' | 'trace';
  /** scrollback per port; big enough by default for the 1 MiB transfers plus chatter */
  scrollbackBytes?: number;
  /** folder for config, sockets, logs; default a fresh temporary folder */
  dir?: string;
  /** the config's `fleet:` section (NATS), as packages/cli/README.md "Fleet" shows it */
  fleet?: Record<string, unknown>;
  /** servicing worker threads (default 1; the daemon's own default is 2) */
  workers?: number;
}

/** `vtcon ls --json` (packages/cli/API.md). */
export interface PortInfo {
  name: string; id: number; console: boolean; guestOpen: boolean;
  bytesIn: number; bytesOut: number; backlog: number; dropped: number;
  attachPath: string; logFile: string | null;
  size: { cols: number; rows: number } | null;
}
export interface VmInfo {
  name: string; socket: string; state: 'listening' | 'connected' | 'stopped';
  features: string[]; connectedSince: string | null; ports: PortInfo[];
}

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** The config file the daemon reads (JSON is YAML; the CLI loads both). */
export function daemonConfig(dir: string, opts: Pick<DaemonOptions, 'vms' | 'logLevel' | 'scrollbackBytes' | 'fleet' | 'workers'>): object {
  return {
    daemon: { control: join(dir, 'control.sock'), runtimeDir: join(dir, 'run'), logLevel: opts.logLevel ?? 'debug', workers: opts.workers ?? 1 },
    ...(opts.fleet ? { fleet: opts.fleet } : {}),
    vms: opts.vms.map((vm) => ({
      name: vm.name,
      socket: join(dir, `${vm.name}.vu.sock`),
      ports: vm.ports.map((p) => ({ name: p.name, console: p.console ?? false })),
      ...(vm.maxPorts !== undefined ? { maxPorts: vm.maxPorts } : {}),
      ...(vm.resizeOrder !== undefined ? { resizeOrder: vm.resizeOrder } : {}),
      sinks: { logDir: join(dir, 'logs'), scrollbackBytes: opts.scrollbackBytes ?? 8 * 1024 * 1024, rotateBytes: 256 * 1024 * 1024 },
    })),
  };
}

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15, in clock ticks). */
export function parseProcStatCpu(stat: string, ticksPerSecond = 100): number {
  // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unparsable /proc stat: ${stat.slice(0, 120)}`);
  return (utime + stime) / ticksPerSecond;
}

export class VtconDaemon {
  readonly configPath: string;
  readonly controlPath: string;
  /** daemon stdout+stderr (its pino log), appended across restarts */
  readonly logPath: string;
  private child: ChildProcess | null = null;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  private starts = 0;

  private constructor(readonly dir: string, readonly opts: DaemonOptions) {
    this.configPath = join(dir, 'vtcon.json');
    this.controlPath = join(dir, 'control.sock');
    this.logPath = join(dir, 'daemon.log');
    writeFileSync(this.configPath, JSON.stringify(daemonConfig(dir, opts), null, 2));
  }

  static async start(opts: DaemonOptions): Promise<VtconDaemon> {
    const dir = opts.dir ?? e2eTempDir('vtcon-e2e-d-');
    mkdirSync(dir, { recursive: true });
    const d = new VtconDaemon(dir, opts);
    await d.restart();
    return d;
  }

  /** The vhost-user socket of a VM (what QEMU's -chardev socket connects to). */
  socketOf(vm: string): string {
    return join(this.dir, `${vm}.vu.sock`);
  }

  logFileOf(vm: string, port: string): string {
    return join(this.dir, 'logs', vm, `${port}.log`);
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the daemon (again) and waits until its control socket answers a ping. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('daemon already running');
    this.starts++;
    const fd = openSync(this.logPath, 'a');
    writeFileSync(fd, `----- vtcon serve start #${this.starts} at ${new Date().toISOString()}\n`);
    // VTCON_DAEMON_NODE_ARGS: node flags for the daemon only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
    const nodeArgs = process.env.VTCON_DAEMON_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, cliPath(), 'serve', '--config', this.configPath], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NO_COLOR: '1' },
    });
    closeSync(fd);
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.running) throw new Error(`vtcon serve exited during start-up:\n${this.log()}`);
      try {
        // `serve` is a holder (child.pid) and an engine (its child) that answers the ping.
        const r = await this.call<{ pid: number }>('ping', {}, 2000);
        if (r.pid === child.pid || (this.holder()?.holderPid === child.pid && r.pid === this.enginePid())) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`vtcon serve did not answer on ${this.controlPath} within 20 s:\n${this.log()}`);
      await sleep(100);
    }
  }

  /** SIGTERM (drains and flushes logs), SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL of `vtcon serve` itself (the holder, or the whole daemon without one). */
  async kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child!.kill('SIGKILL');
    return this.exited;
  }

  /** The holder's status (`<control>.holder.json`), or null without a holder. */
  holder(): { holderPid: number; engine: { pid: number } | null; engineState: string; restarts: number } | null {
    try {
      return JSON.parse(readFileSync(`${this.controlPath}.holder.json`, 'utf8')) as ReturnType<VtconDaemon['holder']>;
    } catch {
      return null;
    }
  }

  /** The process that serves the VMs: the engine under a holder, else `vtcon serve` itself. */
  enginePid(): number {
    return this.holder()?.engine?.pid ?? this.pid;
  }

  /**
   * SIGKILL of the engine under the holder (a crash, an OOM kill); resolves once a new engine
   * answers the control API, with the time that took.
   */
  async killEngine(timeoutMs = 30_000): Promise<{ pid: number; next: number; ms: number }> {
    const pid = this.enginePid();
    if (pid === this.pid) throw new Error('killEngine: this daemon runs without a holder');
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    for (;;) {
      const next = this.holder()?.engine?.pid;
      if (next !== undefined && next !== pid) {
        try {
          const r = await this.call<{ pid: number }>('ping', {}, 2000);
          if (r.pid === next) return { pid, next, ms: Date.now() - t0 };
        } catch {
          // not serving yet
        }
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`no new engine within ${timeoutMs} ms after killing ${pid}:\n${this.log().slice(-4000)}`);
      await sleep(50);
    }
  }

  /** The daemon's log so far (all starts). */
  log(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  /** Parsed pino lines of the log (non-JSON lines skipped). */
  logRecords(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.log().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut by SIGKILL
      }
    }
    return out;
  }

  /** CPU seconds (user + system) the daemon has used so far: the engine, plus the holder if any. */
  cpuSeconds(): number {
    const engine = this.enginePid();
    const own = parseProcStatCpu(readFileSync(`/proc/${engine}/stat`, 'utf8'));
    return engine === this.pid ? own : own + parseProcStatCpu(readFileSync(`/proc/${this.pid}/stat`, 'utf8'));
  }

  /** CPU seconds of the engine's main thread alone (the rest: workers, V8's GC threads, libuv). */
  mainThreadCpuSeconds(): number {
    const engine = this.enginePid();
    return parseProcStatCpu(readFileSync(`/proc/${engine}/task/${engine}/stat`, 'utf8'));
  }

  /** Runs `vtcon -s CONTROL ARGS...`; never throws for a non-zero exit. */
  cli(args: readonly string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cliPath(), '-s', this.controlPath, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`vtcon ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 30_000} ms`));
      }, opts.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input ?? '');
    });
  }

  /** `vtcon ARGS...` that must succeed; returns stdout. */
  async run(args: readonly string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<Buffer> {
    const r = await this.cli(args, opts);
    if (r.code !== 0) throw new Error(`vtcon ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `vtcon ls --json`. */
  async ls(): Promise<VmInfo[]> {
    return (JSON.parse((await this.run(['ls', '--json'])).toString('utf8')) as { vms: VmInfo[] }).vms;
  }

  /** One port from `vtcon ls --json`. */
  async port(vm: string, port: string): Promise<PortInfo> {
    const v = (await this.ls()).find((x) => x.name === vm);
    const p = v?.ports.find((x) => x.name === port);
    if (!p) throw new Error(`no port ${vm}:${port} in vtcon ls`);
    return p;
  }

  /** `vtcon logs VM:PORT`: the port's scrollback, raw bytes. */
  async scrollback(vm: string, port: string): Promise<Buffer> {
    return this.run(['logs', `${vm}:${port}`], { timeoutMs: 60_000 });
  }

  /** The port's log file(s) as one buffer, rotated files (PATH.N, oldest first) before the current one. */
  logFileBytes(vm: string, port: string): Buffer {
    const path = this.logFileOf(vm, port);
    const dir = dirname(path);
    if (!existsSync(dir)) return Buffer.alloc(0);
    const base = `${vm}/${port}.log`.split('/').pop()!;
    const rotated = readdirSync(dir)
      .map((f) => ({ f, n: f.startsWith(`${base}.`) ? Number(f.slice(base.length + 1)) : NaN }))
      .filter((x) => Number.isInteger(x.n))
      .sort((a, b) => b.n - a.n);
    const parts = rotated.map((x) => readFileSync(join(dir, x.f)));
    if (existsSync(path)) parts.push(readFileSync(path));
    return Buffer.concat(parts);
  }

  /**
   * One control API request over the socket directly (API.md: NDJSON); used for cheap polling.
   * The checks themselves go through the CLI.
   */
  call<T>(method: string, params: object = {}, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const s = connect(this.controlPath);
      let buf = '';
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`${method}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      s.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.on('connect', () => s.write(`${JSON.stringify({ id: 1, method, params })}\n`));
      s.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        s.destroy();
        const msg = JSON.parse(buf.slice(0, nl)) as { result?: T; error?: { code: string; message: string } };
        if (msg.error) reject(Object.assign(new Error(`${method}: ${msg.error.code} ${msg.error.message}`), { code: msg.error.code }));
        else resolve(msg.result as T);
      });
    });
  }

  /** Polls the control API's ls until pred holds; returns the last listing. */
  async waitUntil(pred: (vms: VmInfo[]) => boolean, what: string, timeoutMs = 30_000): Promise<VmInfo[]> {
    const deadline = Date.now() + timeoutMs;
    let last: VmInfo[] = [];
    for (;;) {
      try {
        last = (await this.call<{ vms: VmInfo[] }>('ls')).vms;
        if (pred(last)) return last;
      } catch {
        // daemon restarting
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ls: ${JSON.stringify(last)}`);
      await sleep(150);
    }
  }

  /** Port info from the control API (no CLI process), for polling. */
  async portNow(vm: string, port: string): Promise<PortInfo | undefined> {
    const vms = (await this.call<{ vms: VmInfo[] }>('ls')).vms;
    return vms.find((x) => x.name === vm)?.ports.find((x) => x.name === port);
  }

  report(): string {
    return `----- vtcon daemon (pid ${this.pid}, ${this.running ? 'running' : 'stopped'}) ${this.dir} -----\n${this.log()}`;
  }
}

/** Finds a port in an ls listing. */
export function findPort(vms: VmInfo[], vm: string, port: string): PortInfo | undefined {
  return vms.find((x) => x.name === vm)?.ports.find((x) => x.name === port);
}
