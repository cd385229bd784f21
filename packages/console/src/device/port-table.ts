/**
 * The device's ports by id (main thread). Ports are host-side state: they outlive connections.
 * A new port passes the checks here: a valid, unused name and an unused id below max_nr_ports.
 */
import { ConsoleError } from '../errors.js';
import { checkPortName } from '../control/port-name.js';
import type { ConsoleSize } from '../control/resize.js';
import { DEFAULT_BACKLOG_LIMIT } from '../port/backlog.js';
import { ConsolePort } from '../port/port.js';
import type { ConsoleDeviceOptions, ConsolePortOptions, PortInfo } from './options.js';

export class PortTable {
  private readonly ports = new Map<number, ConsolePort>();

  constructor(private readonly maxPorts: number, private readonly opts: Pick<ConsoleDeviceOptions, 'sinksFor' | 'backlogLimit'>) {}

  get size(): number { return this.ports.size; }
  get(id: number): ConsolePort | undefined { return this.ports.get(id); }
  values(): IterableIterator<ConsolePort> { return this.ports.values(); }
  delete(id: number): void { this.ports.delete(id); }

  /** Every port, by id. */
  sorted(): ConsolePort[] {
    return [...this.ports.values()].sort((a, b) => a.id - b.id);
  }

  /** Resolve a port by id or name (a numeric string is an id when no port has it as its name); throws NO_SUCH_PORT. */
  find(ref: number | string): ConsolePort {
    if (typeof ref === 'number') {
      const p = this.ports.get(ref);
      if (p) return p;
    } else {
      for (const p of this.ports.values()) if (p.name === ref) return p;
      if (/^\d+$/.test(ref)) { const p = this.ports.get(Number(ref)); if (p) return p; }
    }
    throw new ConsoleError('NO_SUCH_PORT', `no port ${JSON.stringify(ref)}`);
  }

  /** A console port starts at `size`, the device's size. */
  create(o: ConsolePortOptions, size: ConsoleSize): ConsolePort {
    if (o.name !== undefined) {
      checkPortName(o.name);
      for (const p of this.ports.values()) if (p.name === o.name) throw new ConsoleError('PORT_EXISTS', `port name ${o.name} in use by port ${p.id}`);
    }
    let id = o.id;
    if (id === undefined) {
      id = 0;
      while (this.ports.has(id)) id++;
    }
    if (!Number.isInteger(id) || id < 0 || id >= this.maxPorts) {
      throw new ConsoleError('PORT_ID_OUT_OF_RANGE', `port id ${id} outside 0..${this.maxPorts - 1}`);
    }
    if (this.ports.has(id)) throw new ConsoleError('PORT_EXISTS', `port ${id} exists`);
    const info: PortInfo = { id, name: o.name ?? null, console: o.console ?? false };
    const sinks = [...(this.opts.sinksFor?.(info) ?? []), ...(o.sinks ?? [])];
    const port = new ConsolePort(id, info.name, info.console, o.hostOpen ?? true, sinks,
      this.opts.backlogLimit ?? DEFAULT_BACKLOG_LIMIT, info.console ? { ...size } : null);
    port.log = o.log ?? null;
    this.ports.set(id, port);
    return port;
  }
}
