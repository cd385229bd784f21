// The daemon: config → fleet → control API, plus signals. SIGTERM/SIGINT drain the fleet (every
// sink flushed and closed, so log files are complete) and exit 0; SIGHUP re-reads the config
// file and applies only the difference.
import { createConnection } from 'node:net';
import { pino, type Logger } from 'pino';
import { loadConfigFile } from '../config/load.js';
import { defaultControlSocket, defaultRuntimeDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { ControlServer } from '../control/server.js';
import { makeHandlers, type ReloadSummary } from './api.js';
import type { Fleet } from './fleet.js';
import { applyConfigDiff } from './reload.js';

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

export function makeLogger(config: Config): Logger {
  const dest = config.daemon.logFile ? pino.destination({ dest: config.daemon.logFile, mkdir: true, sync: false }) : pino.destination({ fd: 2, sync: true });
  return pino({ level: config.daemon.logLevel, base: { pid: process.pid } }, dest);
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
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];

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
      throw Object.assign(new Error(`a daemon is already running at ${path} (stop it, or set daemon.control in the config)`), { reason: 'DAEMON_RUNNING' });
    }
    this.fleet = await this.opts.createFleet(this.config, this.logger);
    for (const vm of this.config.vms) await this.fleet.addVm(vm);
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
    this.logger.info({ control: path, vms: this.config.vms.map((v) => v.name) }, 'daemon ready');
    if (this.opts.handleSignals) this.installSignals();
  }

  private installSignals(): void {
    const on = (sig: NodeJS.Signals, fn: () => void) => {
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
    on('SIGTERM', stop('SIGTERM'));
    on('SIGINT', stop('SIGINT'));
    on('SIGHUP', () => {
      void this.reload().catch(() => undefined);
    });
  }

  /** Re-reads the config file and applies the difference. Errors leave the running fleet as is. */
  reload(): Promise<ReloadSummary> {
    if (this.reloading) return this.reloading;
    const run = async () => {
      if (!this.opts.configPath) throw Object.assign(new Error('this daemon runs an embedded config; there is no file to reload'), { reason: 'NO_CONFIG_FILE' });
      let next: Config;
      try {
        next = loadConfigFile(this.opts.configPath);
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'reload: config rejected, keeping the running fleet');
        throw err;
      }
      const summary = await applyConfigDiff(this.fleet!, this.config, next);
      // Daemon-level settings (control socket, workers) need a restart; keep the running ones.
      this.config = { ...next, daemon: this.config.daemon };
      this.logger.info(summary, 'reload applied');
      return summary;
    };
    this.reloading = run().finally(() => {
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
