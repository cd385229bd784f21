// The Fleet backed by the real device stack: per VM one ConsoleDevice (host-side port state that
// outlives guest connections) served by one VhostUserBackend on the VM's socket; per port a
// scrollback, a log file and an attach socket, plus a fan-out for `logs -f`.
// The log file is the port's `log` (not a sink): the worker that services the port appends to it
// before it acknowledges the guest's bytes, so `kill -9` of the daemon loses nothing acknowledged.
//
// Threads: main thread. Port queues are serviced on the daemon.workers piscina threads.
import { chmodSync, closeSync, existsSync, openSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { nameProblem } from '../config/names.js';
import { CliError, type CliReason } from '../errors.js';
import { attachSocketPath, makePrivateDir } from '../config/paths.js';
import type { Config, PortConfig, VmConfig } from '../config/schema.js';
import { findVm, type AttachedClient, type Fleet, type PortInfo, type Unsubscribe, type VmInfo } from './fleet.js';
import type {
  AttachClientInfo, AttachServer, ClientSlots, ConsoleDevice, ConsoleWorkerPool, EngineHost, LogStream, PortLogOptions, PortSink, PortStats, Scrollback,
} from '@vtcon/console';
import type { EngineLink, VhostUserBackend } from '@vtcon/transport';
import { lastLinesOf } from './log-files.js';
import { AttachInput } from './attach-input.js';
import { rateLimitedLogger, type RateLimitedDestination } from './rate-limit.js';
import type { Stack } from './stack.js';

interface PortSinks {
  cfg: PortConfig;
  scrollback: Scrollback;
  log: PortLogOptions;
  attach: AttachServer;
  /** The attach writer's input on its way into the backlog (pauses the writer when full). */
  input: AttachInput;
  /** Bytes of `send` calls refused because the backlog was full. */
  refusedBytes: number;
  subscribers: Set<(chunk: Uint8Array) => void>;
  /** Set when the device reports the log failed (the port goes on without it). */
  logError: string | null;
  /** Removes the files and directories openSinks created (for a port that was refused). */
  undo(): void;
}

interface ConsoleVm {
  cfg: VmConfig;
  /** What the guest and front-end cause is logged through this, rate-limited per VM. */
  limiter: RateLimitedDestination;
  device: ConsoleDevice;
  backend: VhostUserBackend;
  ports: Map<string, PortSinks>;
  connectedSince: string | null;
}

/** virtio feature bits → names, for `vtcon ls` (virtio 1.2 §5.3.3 and §6). */
const FEATURE_NAMES: [bigint, string][] = [
  [0n, 'VIRTIO_CONSOLE_F_SIZE'], [1n, 'VIRTIO_CONSOLE_F_MULTIPORT'], [2n, 'VIRTIO_CONSOLE_F_EMERG_WRITE'],
  [28n, 'VIRTIO_RING_F_INDIRECT_DESC'], [29n, 'VIRTIO_RING_F_EVENT_IDX'], [32n, 'VIRTIO_F_VERSION_1'],
];

/** ConsoleError reasons from ConsoleDevice.addPort → the fleet's. */
const DEVICE_REASONS: Record<string, CliReason> = {
  PORT_ID_OUT_OF_RANGE: 'NO_FREE_PORT',
  PORT_EXISTS: 'PORT_EXISTS',
  FEATURE_NOT_NEGOTIATED: 'BAD_ARGUMENT',
};

export function featureNames(hex: string): string[] {
  let v: bigint;
  try {
    v = BigInt(hex);
  } catch {
    return [];
  }
  return FEATURE_NAMES.filter(([bit]) => (v & (1n << bit)) !== 0n).map(([, n]) => n);
}

function peerOf(c: AttachClientInfo): string {
  return `${c.name} (${c.protocol})`;
}

export class ConsoleFleet implements Fleet {
  private readonly vms = new Map<string, ConsoleVm>();
  /** Port queues are serviced on daemon.workers piscina threads; control queues stay here. */
  private readonly pool: ConsoleWorkerPool;
  /** The fd budget shared by every port's attach socket (client-slots.ts); the control API has its own cap. */
  readonly clientSlots: ClientSlots;

  constructor(
    private readonly stack: Stack,
    private readonly runtimeDir: string,
    private readonly defaultLogDir: string,
    private readonly logger: Logger,
    config: Config,
    /** Served through a holder (daemon/holder-main.ts): it keeps the sockets and connections. */
    private readonly held: EngineLink | null = null,
  ) {
    this.pool = new stack.console.ConsoleWorkerPool({ threads: config.daemon.workers, logger: logger.child({ component: 'workers' }) });
    this.clientSlots = stack.console.ClientSlots.fromFdLimit();
  }

  /** Worker shards (for stats). */
  workers(): { shard: number; queues: number; restarts: number; alive: boolean }[] {
    return this.pool.stats();
  }

  list(): VmInfo[] {
    return [...this.vms.values()].map((vm) => {
      const st = vm.device.stats();
      const connected = vm.backend.connected;
      if (connected && !vm.connectedSince) vm.connectedSince = new Date().toISOString();
      if (!connected) vm.connectedSince = null;
      return {
        name: vm.cfg.name,
        socket: vm.cfg.socket,
        state: connected ? 'connected' as const : 'listening' as const,
        features: connected ? featureNames(st.ackedFeatures) : [],
        connectedSince: vm.connectedSince,
        ports: st.ports.filter((p) => p.name !== null && vm.ports.has(p.name)).map((p) => this.portInfo(vm, p)),
      };
    });
  }

  port(vmName: string, port: string): PortInfo {
    const { vm } = this.sinks(vmName, port);
    return this.portInfo(vm, vm.device.port(port));
  }

  private portInfo(vm: ConsoleVm, p: PortStats): PortInfo {
    const sinks = vm.ports.get(p.name!)!;
    return {
      name: p.name!, id: p.id, console: p.console, guestOpen: p.guestOpen,
      bytesIn: p.bytesIn, bytesOut: p.bytesOut, backlog: p.backlogBytes, dropped: sinks.refusedBytes + sinks.input.dropped,
      attachPath: sinks.attach.path, logFile: sinks.log.path, logError: sinks.logError, size: p.size,
      readerSource: sinks.attach.followsLog ? 'log' : 'memory',
      readers: sinks.attach.who().map((c) => ({ peer: peerOf(c), lagBytes: c.lagBytes })),
    };
  }

  /**
   * Creates the port's log file (and its directories) and attach socket. On failure removes what
   * it created, so a refused port leaves nothing behind. Names are checked before anything is.
   */
  private async openSinks(vm: VmConfig, port: PortConfig, device: () => ConsoleDevice): Promise<PortSinks> {
    const bad = nameProblem('VM', vm.name) ?? nameProblem('port', port.name);
    if (bad) throw new CliError('BAD_ARGUMENT', bad);
    const c = this.stack.console;
    const scrollback = new c.Scrollback({ capacityBytes: vm.sinks.scrollbackBytes });
    const log: PortLogOptions = {
      path: join(vm.sinks.logDir ?? this.defaultLogDir, vm.name, `${port.name}.log`),
      maxBytes: vm.sinks.rotateBytes, keep: Math.max(1, vm.sinks.keepFiles + 1), timestamps: vm.sinks.timestamps,
      // Under a holder a ring may be taken over by the next engine: log exactly once across it.
      resumeRecord: this.held !== null,
    };
    const attachPath = attachSocketPath(this.runtimeDir, vm.name, port.name);
    const created = { log: !existsSync(log.path), logDir: !existsSync(dirname(log.path)), attachDir: !existsSync(dirname(attachPath)) };
    const undo = () => {
      const steps: [boolean, () => void][] = [
        [created.log, () => rmSync(log.path, { force: true })],
        [created.log, () => rmSync(c.LogStream.anchorFileOf(log.path), { force: true })],
        // rmdir: only if empty, another port may have moved in meanwhile.
        [created.logDir, () => rmdirSync(dirname(log.path))],
        [created.attachDir, () => rmdirSync(dirname(attachPath))],
      ];
      for (const [made, step] of steps) {
        try {
          if (made) step();
        } catch {
          // not empty, gone, or not reachable (the bad logDir itself): leave it
        }
      }
    };
    try {
      // Open it once here so a bad logDir fails at `serve`/`port add`, and the file exists for
      // `vtcon logs` before the guest connects. The servicing worker opens it for real.
      makePrivateDir(dirname(log.path));
      // A plain open/close: AppendLog.close() fsyncs, which on a busy disk made every VM's set-up
      // (and so an engine take-over of many VMs) wait for the disk.
      closeSync(openSync(log.path, 'a', 0o640));
      makePrivateDir(dirname(attachPath));
    } catch (err) {
      undo();
      throw new CliError('SINK_FAILED', `${vm.name}:${port.name}: ${(err as Error).message}`, { cause: err });
    }
    let attach: AttachServer | null = null;
    const input = new AttachInput(
      (bytes) => device().send(port.name, bytes),
      () => attach?.resumeInput(),
      (err, bytes) => this.logger.warn({ vm: vm.name, port: port.name, bytes, err: (err as Error).message }, 'attach input refused'),
    );
    try {
      // Readers follow the log when it is the raw byte stream; with timestamps the stamped lines
      // are not, so they are fed from memory (bounded per client; a stalled one is disconnected).
      const stream = log.timestamps ? null : await c.LogStream.open(log.path, log.maxBytes);
      attach = await this.listenAttach(vm, port, attachPath, scrollback, input, device, stream);
    } catch (err) {
      undo();
      throw new CliError('SINK_FAILED', `${vm.name}:${port.name}: ${(err as Error).message}`, { cause: err });
    }
    return { cfg: port, scrollback, log, attach, input, refusedBytes: 0, subscribers: new Set(), logError: null, undo };
  }

  private listenAttach(
    vm: VmConfig, port: PortConfig, attachPath: string, scrollback: Scrollback, input: AttachInput, device: () => ConsoleDevice, log: LogStream | null,
  ): Promise<AttachServer> {
    const c = this.stack.console;
    return c.AttachServer.listen({
      path: attachPath,
      scrollback,
      slots: this.clientSlots,
      ...(log ? { log, replayMaxBytes: vm.sinks.scrollbackBytes } : {}),
      onInput: (bytes) => input.push(bytes),
      onResize: ({ cols, rows }) => {
        try {
          device().resize(port.name, cols, rows);
        } catch (err) {
          this.logger.debug({ vm: vm.name, port: port.name, err: (err as Error).message }, 'resize ignored');
        }
      },
    });
  }

  /** The port's sinks in the order the device feeds them: scrollback before attach (replay rule). */
  private sinkList(s: PortSinks): PortSink[] {
    const fanout: PortSink = {
      write: (chunk) => {
        for (const fn of s.subscribers) fn(chunk);
      },
      close: async () => s.subscribers.clear(),
    };
    return [s.scrollback, s.attach, fanout];
  }

  async addVm(cfg: VmConfig): Promise<void> {
    if (this.vms.has(cfg.name)) throw new CliError('VM_EXISTS', `VM "${cfg.name}" already exists`);
    let device: ConsoleDevice | null = null;
    const bad = nameProblem('VM', cfg.name) ?? cfg.ports.map((p) => nameProblem('port', p.name)).find((x) => x !== null);
    if (bad) throw new CliError('BAD_ARGUMENT', bad);
    const ports = new Map<string, PortSinks>();
    try {
      for (const p of cfg.ports) ports.set(p.name, await this.openSinks(cfg, p, () => device!));
    } catch (err) {
      for (const s of ports.values()) await s.attach.close().then(s.undo, s.undo);
      throw err;
    }
    const c = this.stack.console;
    const { logger: vmLog, limiter } = rateLimitedLogger(this.logger, { vm: cfg.name });
    const opts = {
      ports: cfg.ports.map((p) => ({ name: p.name, console: p.console, sinks: this.sinkList(ports.get(p.name)!), log: ports.get(p.name)!.log })),
      maxPorts: cfg.maxPorts ?? Math.max(cfg.ports.length, 8),
      ...(cfg.resizeOrder ? { resizeOrder: cfg.resizeOrder } : {}),
      logger: vmLog,
      // vmLog is this VM's one rate limit (device and connection lines, every line counted).
      guestLogLimit: false as const,
      engine: (host: EngineHost) => this.pool.createEngine(host, cfg.name),
    };
    device = new c.ConsoleDevice(opts);
    const dev = device;
    dev.on('log-failed', ({ port, error }) => {
      // The device logged it; keep it for `ls`. A failed log stays failed for the connection; the
      // next connection opens the logs again (and reports again if they still fail).
      const name = dev.stats().ports.find((p) => p.id === port)?.name;
      const s = name ? ports.get(name) : undefined;
      if (s) s.logError = error.message;
    });
    dev.on('features', () => { for (const s of ports.values()) s.logError = null; });
    // Room in a port's backlog: attach input held for it goes on (and its writer resumes).
    dev.on('wrote', () => { for (const s of ports.values()) if (s.input.waiting) s.input.drained(); });
    makePrivateDir(dirname(cfg.socket));
    const held = this.held;
    if (held) {
      // The guest side goes to the holder before the control chain that changed it is used.
      // Only a changed blob goes out: a guest repeating a handshake message changes nothing.
      let last = '';
      const save = () => {
        const state = dev.guestState();
        const key = JSON.stringify(state);
        if (key !== last) { last = key; held.saveState(cfg.name, state); }
      };
      for (const ev of ['driver-ready', 'port-ready', 'port-open'] as const) dev.on(ev, save);
    }
    const backend = new this.stack.transport.VhostUserBackend({
      socketPath: cfg.socket, createDevice: () => dev, logger: vmLog, ...(held ? { held: { link: held, vm: cfg.name } } : {}),
    });
    try {
      await backend.start();
    } catch (err) {
      await dev.close(); // closes the ports' sinks (attach sockets)
      for (const s of ports.values()) s.undo();
      throw err;
    }
    // Only the daemon's user (QEMU runs as it, or is given access by the operator) whatever the umask.
    if (!held) chmodSync(cfg.socket, 0o600);
    this.vms.set(cfg.name, { cfg, limiter, device: dev, backend, ports, connectedSince: null });
    this.logger.info({ vm: cfg.name, socket: cfg.socket, ports: cfg.ports.map((p) => p.name) }, 'VM listening');
  }

  async removeVm(name: string): Promise<void> {
    const vm = findVm(this.vms, name);
    this.vms.delete(name);
    await vm.backend.close();
    await vm.device.close(); // closes every port's sinks: log files flushed and fsynced
    vm.limiter.close();
    this.logger.info({ vm: name }, 'VM removed');
  }

  async addPort(vmName: string, cfg: PortConfig): Promise<PortInfo> {
    const vm = findVm(this.vms, vmName);
    if (vm.ports.has(cfg.name)) throw new CliError('PORT_EXISTS', `VM "${vmName}" already has a port "${cfg.name}"`);
    const sinks = await this.openSinks(vm.cfg, cfg, () => vm.device);
    let st: PortStats;
    try {
      st = vm.device.addPort({ name: cfg.name, console: cfg.console, sinks: this.sinkList(sinks), log: sinks.log });
    } catch (err) {
      await Promise.allSettled([sinks.attach.close()]);
      sinks.undo();
      // The device says why in its error's reason; the message is for people. The fleet never
      // picks the id, so an id out of range means every id up to maxPorts is taken.
      throw new CliError(DEVICE_REASONS[(err as { reason?: string }).reason ?? ''] ?? 'BAD_ARGUMENT', (err as Error).message, { cause: err });
    }
    vm.ports.set(cfg.name, sinks);
    return this.portInfo(vm, st);
  }

  async removePort(vmName: string, name: string): Promise<void> {
    const vm = findVm(this.vms, vmName);
    if (!vm.ports.has(name)) throw new CliError('PORT_NOT_FOUND', `VM "${vmName}" has no port "${name}"`);
    vm.ports.get(name)!.input.discard();
    vm.ports.delete(name);
    await vm.device.removePort(name);
  }

  private sinks(vmName: string, port: string): { vm: ConsoleVm; s: PortSinks } {
    const vm = findVm(this.vms, vmName);
    const s = vm.ports.get(port);
    if (!s) throw new CliError('PORT_NOT_FOUND', `VM "${vmName}" has no port "${port}"`);
    return { vm, s };
  }

  send(vmName: string, port: string, data: Uint8Array): number {
    const { vm } = this.sinks(vmName, port);
    try {
      vm.device.send(port, data);
      return data.length;
    } catch (err) {
      if ((err as { reason?: string }).reason === 'BACKLOG_FULL') {
        this.sinks(vmName, port).s.refusedBytes += data.length;
        return 0;
      }
      throw err;
    }
  }

  resize(vmName: string, port: string, cols: number, rows: number): void {
    const { vm, s } = this.sinks(vmName, port);
    if (!s.cfg.console) throw new CliError('BAD_ARGUMENT', `${vmName}:${port} is not a console port; only console ports have a size`);
    vm.device.resize(port, cols, rows);
  }

  scrollback(vmName: string, port: string, opts: { sinceMs?: number; lastLines?: number } = {}): Uint8Array {
    const { s } = this.sinks(vmName, port);
    if (opts.sinceMs !== undefined) {
      const bytes = s.scrollback.since(opts.sinceMs).bytes;
      return opts.lastLines === undefined ? bytes : lastLinesOf(Buffer.from(bytes), opts.lastLines);
    }
    if (opts.lastLines !== undefined) return s.scrollback.lastLines(opts.lastLines).bytes;
    return s.scrollback.read(s.scrollback.startOffset).bytes;
  }

  subscribe(vmName: string, port: string, onData: (chunk: Uint8Array) => void): Unsubscribe {
    const { s } = this.sinks(vmName, port);
    // Sinks must copy: the chunk may be a view into guest memory.
    const fn = (chunk: Uint8Array) => onData(Uint8Array.from(chunk));
    s.subscribers.add(fn);
    return () => s.subscribers.delete(fn);
  }

  who(vmName: string, port: string): AttachedClient[] {
    const { s } = this.sinks(vmName, port);
    return s.attach.who().map((c) => ({
      role: c.role, since: new Date(c.since).toISOString(), peer: peerOf(c), lagBytes: c.lagBytes, offset: c.offset, skippedBytes: c.skippedBytes,
    }));
  }

  async close(): Promise<void> {
    for (const name of [...this.vms.keys()]) await this.removeVm(name);
    await this.pool.close();
  }
}
