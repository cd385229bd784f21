// Simulated Fleet: every VM is an in-process simulated guest running ShellModel on each port,
// with no virtio underneath. `vtcon serve --simulate` / `demo --simulate` use it, and the daemon
// falls back to it (with a warning) when the device stack (console-fleet.ts) cannot load, so the
// CLI is usable and testable on a machine without the native addon. It keeps the same sinks as the real
// fleet: a bounded scrollback with time index, a log file per port, an attach endpoint.
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { attachSocketPath } from '../config/paths.js';
import type { PortConfig, VmConfig } from '../config/schema.js';
import { AttachEndpoint } from './attach-endpoint.js';
import { FleetError, findVm, type AttachedClient, type Fleet, type PortInfo, type Unsubscribe, type VmInfo } from './fleet.js';
import { LineScrollback } from './line-scrollback.js';
import { ShellModel } from './shell-model.js';

interface SimPort {
  cfg: PortConfig;
  id: number;
  shell: ShellModel;
  scrollback: LineScrollback;
  log: WriteStream;
  logFile: string;
  logAtLineStart: boolean;
  attach: AttachEndpoint;
  subscribers: Set<(chunk: Uint8Array) => void>;
  bytesIn: number;
  bytesOut: number;
}

interface SimVm {
  cfg: VmConfig;
  ports: Map<string, SimPort>;
  since: string;
}

export class SimFleet implements Fleet {
  private readonly vms = new Map<string, SimVm>();
  private closed = false;

  constructor(private readonly runtimeDir: string, private readonly defaultLogDir: string, private readonly logger: Logger) {}

  list(): VmInfo[] {
    return [...this.vms.values()].map((vm) => ({
      name: vm.cfg.name,
      socket: vm.cfg.socket,
      state: 'connected' as const,
      features: ['VIRTIO_F_VERSION_1', 'VIRTIO_CONSOLE_F_MULTIPORT', 'VIRTIO_CONSOLE_F_SIZE', '(simulated)'],
      connectedSince: vm.since,
      ports: [...vm.ports.values()].map((p) => this.portInfo(p)),
    }));
  }

  private portInfo(p: SimPort): PortInfo {
    return {
      name: p.cfg.name, id: p.id, console: p.cfg.console, guestOpen: true,
      bytesIn: p.bytesIn, bytesOut: p.bytesOut, backlog: 0, dropped: 0,
      attachPath: p.attach.path, logFile: p.logFile, size: p.shell.size,
    };
  }

  async addVm(cfg: VmConfig): Promise<void> {
    if (this.vms.has(cfg.name)) throw new FleetError('VM_EXISTS', `VM "${cfg.name}" already exists`);
    const vm: SimVm = { cfg, ports: new Map(), since: new Date().toISOString() };
    this.vms.set(cfg.name, vm);
    for (const p of cfg.ports) await this.addPort(cfg.name, p);
    this.logger.info({ vm: cfg.name, ports: cfg.ports.length }, 'simulated VM added');
  }

  async removeVm(name: string): Promise<void> {
    const vm = findVm(this.vms, name);
    for (const p of [...vm.ports.keys()]) await this.removePort(name, p);
    this.vms.delete(name);
    this.logger.info({ vm: name }, 'VM removed');
  }

  async addPort(vmName: string, cfg: PortConfig): Promise<PortInfo> {
    const vm = findVm(this.vms, vmName);
    if (vm.ports.has(cfg.name)) throw new FleetError('PORT_EXISTS', `VM "${vmName}" already has a port "${cfg.name}"`);
    const max = vm.cfg.maxPorts ?? Math.max(vm.cfg.ports.length, 1);
    const used = new Set([...vm.ports.values()].map((p) => p.id));
    let id = 0;
    while (used.has(id)) id++;
    if (id >= max) throw new FleetError('NO_FREE_PORT', `VM "${vmName}" has all ${max} ports in use (raise maxPorts in the config)`);
    const logDir = join(vm.cfg.sinks.logDir ?? this.defaultLogDir, vmName);
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${cfg.name}.log`);
    const port: SimPort = {
      cfg, id,
      shell: new ShellModel(vmName, cfg.name),
      scrollback: new LineScrollback(vm.cfg.sinks.scrollbackBytes),
      log: createWriteStream(logFile, { flags: 'a', mode: 0o640 }),
      logFile, logAtLineStart: true,
      attach: undefined as unknown as AttachEndpoint,
      subscribers: new Set(), bytesIn: 0, bytesOut: 0,
    };
    port.attach = new AttachEndpoint(attachSocketPath(this.runtimeDir, vmName, cfg.name), {
      onInput: (data) => this.deliver(vm, port, data),
      onResize: (cols, rows) => this.resize(vmName, cfg.name, cols, rows),
      replay: (n) => port.scrollback.lastLines(n),
    });
    await port.attach.listen();
    vm.ports.set(cfg.name, port);
    this.guestWrites(vm, port, port.shell.banner());
    return this.portInfo(port);
  }

  async removePort(vmName: string, name: string): Promise<void> {
    const p = this.port(vmName, name);
    this.vms.get(vmName)!.ports.delete(name);
    await p.attach.close();
    p.log.end();
    await once(p.log, 'close');
  }

  private port(vmName: string, name: string): SimPort {
    const p = findVm(this.vms, vmName).ports.get(name);
    if (!p) throw new FleetError('PORT_NOT_FOUND', `VM "${vmName}" has no port "${name}"`);
    return p;
  }

  /** Guest output → every sink. */
  private guestWrites(vm: SimVm, p: SimPort, text: string): void {
    if (text.length === 0 || this.closed) return;
    const bytes = Buffer.from(text, 'utf8');
    const now = Date.now();
    p.bytesIn += bytes.length;
    p.scrollback.write(bytes, now);
    if (vm.cfg.sinks.timestamps) {
      let out = '';
      for (const ch of text) {
        if (p.logAtLineStart) out += `${new Date(now).toISOString()} `;
        out += ch;
        p.logAtLineStart = ch === '\n';
      }
      p.log.write(out);
    } else p.log.write(bytes);
    p.attach.broadcast(bytes);
    for (const s of p.subscribers) s(bytes);
  }

  private deliver(vm: SimVm, p: SimPort, data: Uint8Array): number {
    p.bytesOut += data.length;
    // The guest answers asynchronously, as a real one would after its next receive interrupt.
    const reply = p.shell.input(data);
    setImmediate(() => this.guestWrites(vm, p, reply));
    return data.length;
  }

  send(vmName: string, port: string, data: Uint8Array): number {
    return this.deliver(findVm(this.vms, vmName), this.port(vmName, port), data);
  }

  resize(vmName: string, port: string, cols: number, rows: number): void {
    const p = this.port(vmName, port);
    if (!p.cfg.console) throw new FleetError('BAD_ARGUMENT', `${vmName}:${port} is not a console port; only console ports have a size`);
    this.guestWrites(findVm(this.vms, vmName), p, p.shell.resize(cols, rows));
  }

  scrollback(vmName: string, port: string, opts: { sinceMs?: number; lastLines?: number } = {}): Uint8Array {
    const p = this.port(vmName, port);
    return p.scrollback.read(opts);
  }

  subscribe(vmName: string, port: string, onData: (chunk: Uint8Array) => void): Unsubscribe {
    const p = this.port(vmName, port);
    p.subscribers.add(onData);
    return () => p.subscribers.delete(onData);
  }

  who(vmName: string, port: string): AttachedClient[] {
    return this.port(vmName, port).attach.who();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const vm of [...this.vms.keys()]) await this.removeVm(vm);
  }
}
