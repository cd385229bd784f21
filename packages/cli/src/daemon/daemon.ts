// The daemon: config → fleet → control API, plus signals. SIGTERM/SIGINT drain the fleet (every
// sink flushed and closed, so log files are complete) and exit 0; SIGHUP re-reads the config
// file and applies only the difference.
import { createConnection } from 'node:net';
import { pino, type Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import { defaultControlSocket, defaultRuntimeDir } from '../config/paths.js';
import type { Config, VmConfig } from '../config/schema.js';
import { ControlServer } from '../control/server.js';
import { CliError } from '../errors.js';
import { makeHandlers, type ReloadSummary } from './api.js';
import type { Fleet } from './fleet.js';
import { DaemonLogFile } from './daemon-log.js';
import { applyReload } from './reload.js';

export interface DaemonOptions {
  config: Config;
  /** File to re-read on SIGHUP (absent for the embedded demo config). */
  configPath?: string;
  createFleet(config: Config, logger: Logger): Promise<Fleet> | Fleet;
  logger?: Logger;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (false for in-process use by tests/demo). */
  handleSignals?: boolean;
}

export function controlPathOf(config: Config): string {
  return config.daemon.control ?? defaultControlSocket();
}

export function runtimeDirOf(config: Config): string {
  return config.daemon.runtimeDir ?? defaultRuntimeDir();
}

/**
 * The daemon's logger: daemon.logFile (capped and rotated, lines dropped and counted when the disk
 * refuses them; see daemon-log.ts) or stderr. Neither may throw into the daemon or block it.
 */
export function makeLogger(config: Config): Logger {
  const d = config.daemon;
  const dest = d.logFile ? new DaemonLogFile({ path: d.logFile, maxBytes: d.logRotateBytes, keep: d.logKeepFiles }) : stderrDestination();
  return pino({ level: d.logLevel, base: { pid: process.pid } }, dest);
}

function stderrDestination(): { write(line: string): void } {
  const boom = pino.destination({ fd: 2, sync: true });
  // A full disk or closed pipe behind stderr drops the line; unhandled, sonic-boom would throw.
  boom.on('error', () => undefined);
  return boom;
}

/** true when something answers on the socket (a live daemon), false for none or a stale file. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

export class Daemon {
  readonly logger: Logger;
  private config: Config;
  private fleet: Fleet | null = null;
  private server: ControlServer | null = null;
  private fleetNode: { stop(): Promise<void> } | null = null;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  private reloading: Promise<ReloadSummary> | null = null;
  private readonly signalHandlers: [string, (arg: unknown) => void][] = [];
  /** VMs of the config that could not be set up at start (reported, not served). */
  readonly skipped: { vm: string; reason: string; message: string }[] = [];

  constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.logger = opts.logger ?? makeLogger(opts.config);
  }

  get controlPath(): string {
    return controlPathOf(this.config);
  }

  async start(): Promise<void> {
    const path = this.controlPath;
    if (await probeSocket(path)) {
      throw new CliError('DAEMON_RUNNING', `a daemon is already running at ${path} (stop it, or set daemon.control in the config)`);
    }
    this.fleet = await this.opts.createFleet(this.config, this.logger);
    // One VM that cannot be served (a logDir it cannot write, a socket path taken) is reported
    // and skipped; the others are served. It is left out of the running config, so a SIGHUP
    // after the fix adds it.
    const served: VmConfig[] = [];
    for (const vm of this.config.vms) {
      try {
        await this.fleet.addVm(vm);
        served.push(vm);
      } catch (err) {
        const reason = (err as { reason?: string }).reason;
        this.skipped.push({ vm: vm.name, reason: reason ?? 'INTERNAL', message: (err as Error).message });
        this.logger.error({ vm: vm.name, reason, err: (err as Error).message }, 'VM not served: it could not be set up (the other VMs are served)');
      }
    }
    this.config = { ...this.config, vms: served };
    const handlers = makeHandlers({
      fleet: this.fleet,
      config: () => this.config,
      reload: () => this.reload(),
      startedAt: this.startedAt,
    });
    this.server = new ControlServer(path, handlers);
    await this.server.listen();
    // Fleet mode only with `fleet:`; loaded on demand so single-host daemons never load NATS.
    if (this.config.fleet) {
      const { FleetNode } = await import('../fleet/node.js');
      this.fleetNode = new FleetNode({ config: this.config.fleet, fleet: this.fleet, handlers, logger: this.logger });
    }
    this.logger.info({ control: path, vms: this.config.vms.map((v) => v.name), skipped: this.skipped.map((v) => v.vm) }, 'daemon ready');
    if (this.opts.handleSignals) this.installSignals();
  }

  private installSignals(): void {
    const on = (sig: string, fn: (arg: unknown) => void) => {
      process.on(sig, fn);
      this.signalHandlers.push([sig, fn]);
    };
    const stop = (sig: string) => () => {
      this.logger.info({ signal: sig }, 'stopping: draining consoles and flushing logs');
      void this.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          this.logger.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    // A crash is the daemon's last log line: in daemon.logFile (written synchronously, so it is
    // there before the exit) as well as on stderr, where an operator without the file looks.
    const crash = (kind: string) => (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      this.logger.fatal({ err: e }, `crash: ${kind}; exiting`);
      if (this.config.daemon.logFile) {
        try {
          process.stderr.write(`vtcon: crash: ${kind}: ${e.stack ?? e.message}\n`);
        } catch {
          // stderr gone: the log file has it
        }
      }
      process.exit(1);
    };
    on('uncaughtException', crash('uncaught exception'));
    on('unhandledRejection', crash('unhandled rejection'));
    on('SIGTERM', stop('SIGTERM'));
    on('SIGINT', stop('SIGINT'));
    on('SIGHUP', () => {
      void this.reload().catch(() => undefined); // reload() logged it
    });
  }

  /** Re-reads the config file and applies the difference. Errors leave the running fleet as is. */
  reload(): Promise<ReloadSummary> {
    if (this.reloading) return this.reloading;
    const run = async () => {
      if (!this.opts.configPath) throw new CliError('NO_CONFIG_FILE', 'this daemon runs an embedded config; there is no file to reload');
      const next = loadConfigFile(this.opts.configPath);
      const { summary, running } = await applyReload(this.fleet!, this.config, next);
      // Daemon-level settings (control socket, workers) need a restart; keep the running ones.
      this.config = { ...running, daemon: this.config.daemon };
      for (const f of summary.failed) this.logger.error(f, 'reload: step failed; the rest was applied (a later reload retries it)');
      this.logger.info(summary, summary.failed.length > 0 ? 'reload partly applied' : 'reload applied');
      return summary;
    };
    this.reloading = run()
      .catch((err: unknown) => {
        // Logged here, so SIGHUP (which has nobody to answer) loses nothing.
        this.logger.error({ reason: (err as { reason?: string }).reason, err: (err as Error).message }, 'reload failed, keeping the running fleet');
        throw err;
      })
      .finally(() => {
        this.reloading = null;
      });
    return this.reloading;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const [sig, fn] of this.signalHandlers.splice(0)) process.off(sig, fn);
      await this.server?.close();
      await this.fleetNode?.stop();
      await this.fleet?.close();
      this.logger.info('stopped');
      await new Promise<void>((resolve) => this.logger.flush(() => resolve()));
    })();
    return this.stopping;
  }
}
