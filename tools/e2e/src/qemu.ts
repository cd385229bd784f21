// Boots one e2e guest: the provisioned QEMU 11 (through trixie's loader) with the Linux guest,
// optionally with a vhost-user console device on a socket the backend already listens on
// (QEMU connects as the client at startup and fails at once if nobody listens).
// One QEMU per call; the caller owns the handle and must kill() it (the vitest helper in
// failure-log.ts does that and prints the serial log of a failed test).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { e2ePaths, type E2ePaths } from './paths.js';
import { qemuArgs, type GuestConfig } from './qemu-args.js';
import { SerialConsole, type LineMatch, type WaitOptions } from './serial.js';
import { e2eTempDir } from './tmp.js';

export interface BootOptions extends Omit<GuestConfig, 'serialLog'> {
  /** serial log file; default: a fresh temporary folder */
  serialLog?: string;
  /** label in messages and printed logs (default: the scenario) */
  name?: string;
  paths?: E2ePaths;
}

export interface GuestExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecResult {
  rc: number;
  /** console lines between the command and its status line */
  output: string[];
}

export class Guest {
  readonly serial = new SerialConsole();
  readonly exited: Promise<GuestExit>;
  private exit: GuestExit | null = null;
  private stderr = '';
  private nextExecId = 1;

  constructor(
    readonly name: string,
    readonly serialLog: string,
    readonly argv: readonly string[],
    private readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.serial.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    // QEMU may exit while we write to its stdin (guest powered off): that is not an error here.
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise<GuestExit>((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        const why = signal ? `QEMU killed by ${signal}` : `QEMU exited (code ${code})`;
        // stdout may still hold the last bytes: close the console once it has drained.
        const finish = (): void => {
          this.serial.close(this.stderr.trim() ? `${why}: ${this.stderr.trim()}` : why);
          resolve({ code, signal });
        };
        if (child.stdout!.readableEnded) finish();
        else child.stdout!.once('close', finish);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** QEMU's own stderr (option errors, vhost-user failures). */
  qemuStderr(): string {
    return this.stderr;
  }

  waitFor(re: RegExp, opts?: WaitOptions): Promise<LineMatch> {
    return this.serial.waitFor(re, opts);
  }

  /** Types into the serial console (the guest's stdin when it runs the shell scenario). */
  write(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Runs a command in a guest booted with the `shell` scenario; resolves with its status. */
  async exec(command: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    if (/[\r\n]/.test(command)) throw new RangeError('exec: one line per command');
    const id = this.nextExecId++;
    const from = this.serial.lines().length;
    this.write(`${id} ${command}\n`);
    const done = await this.serial.waitFor(new RegExp(`^VTCON rc ${id} (\\d+)$`), { from, timeoutMs: opts.timeoutMs ?? 30_000 });
    return { rc: Number(done.match[1]), output: this.serial.lines().slice(from, done.index) };
  }

  /** Waits for QEMU to exit by itself (the guest powered off); rejects after timeoutMs. */
  async waitExit(timeoutMs = 60_000): Promise<GuestExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name}: QEMU still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL (what a crashing VM looks like to the backend) and wait for the exit. */
  async kill(): Promise<GuestExit> {
    if (this.exit === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Serial output and QEMU's stderr, for a failed test's report. */
  report(): string {
    const state = this.exit ? `exit code=${this.exit.code} signal=${this.exit.signal}` : 'running';
    return [
      `----- guest ${this.name} (pid ${this.pid}, ${state}) serial log ${this.serialLog} -----`,
      this.serial.output().replace(/\r/g, ''),
      this.stderr ? `----- QEMU stderr -----\n${this.stderr}` : '',
      `----- command: ${this.argv.join(' ')}`,
    ].join('\n');
  }
}

export function bootGuest(opts: BootOptions): Guest {
  const paths = opts.paths ?? e2ePaths();
  const serialLog = opts.serialLog ?? join(e2eTempDir('vtcon-e2e-'), 'serial.log');
  const args = qemuArgs(paths, { ...opts, serialLog });
  const argv = [paths.loader, '--library-path', paths.libraryPath, paths.qemuBinary, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, QEMU_MODULE_DIR: paths.qemuModuleDir },
  });
  const name = opts.name ?? (typeof opts.scenario === 'string' ? opts.scenario : opts.scenario.join(','));
  return new Guest(name, serialLog, argv, child);
}
