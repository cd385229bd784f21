// The web server's line to the local daemon: the control API client (control/client.ts), connected
// lazily and again after the daemon went away, plus the fleet snapshot the page polls. The
// snapshot is taken at most once per second however many browsers ask, and carries the rates
// (bytes/s) computed from the difference between two `ls` answers.
import { ControlClient } from '../control/client.js';
import type { PortInfo, VmInfo } from '../daemon/fleet.js';

/** One port of the fleet table: the daemon's PortInfo counters, with its VM and rates. */
export interface PortRow extends Pick<PortInfo, 'console' | 'guestOpen' | 'bytesIn' | 'bytesOut' | 'backlog' | 'dropped' | 'size'> {
  vm: string;
  state: VmInfo['state'];
  port: string;
  /** guest→host and host→guest bytes per second since the previous snapshot. */
  inPerSec: number;
  outPerSec: number;
}

export interface FleetSnapshot { at: number; rows: PortRow[] }

const SNAPSHOT_MS = 1000;

export class DaemonLink {
  private client: Promise<ControlClient> | null = null;
  private last: FleetSnapshot | null = null;
  private pending: Promise<FleetSnapshot> | null = null;

  constructor(readonly controlPath: string) {}

  /** One control call; a dead connection is dropped so the next call reconnects. */
  async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    this.client ??= ControlClient.connect(this.controlPath);
    let c: ControlClient;
    try {
      c = await this.client;
    } catch (err) {
      this.client = null;
      throw err;
    }
    try {
      return await c.call<T>(method, params);
    } catch (err) {
      if ((err as { code?: string }).code === 'UNAVAILABLE') {
        this.client = null;
        c.close();
      }
      throw err;
    }
  }

  /** The fleet with rates; cached for SNAPSHOT_MS so many pages cost one `ls` a second. */
  fleet(): Promise<FleetSnapshot> {
    const now = Date.now();
    if (this.last && now - this.last.at < SNAPSHOT_MS) return Promise.resolve(this.last);
    this.pending ??= this.call<{ vms: VmInfo[] }>('ls').then((r) => {
      const next = toSnapshot(r.vms, Date.now(), this.last);
      this.last = next;
      return next;
    }).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  close(): void {
    void this.client?.then((c) => c.close(), () => undefined);
    this.client = null;
  }
}

export function toSnapshot(vms: VmInfo[], at: number, prev: FleetSnapshot | null): FleetSnapshot {
  const before = new Map(prev?.rows.map((r) => [`${r.vm}:${r.port}`, r]) ?? []);
  const secs = prev ? Math.max(0.001, (at - prev.at) / 1000) : 1;
  const rows: PortRow[] = [];
  for (const vm of vms) {
    for (const p of vm.ports) {
      const b = before.get(`${vm.name}:${p.name}`);
      rows.push({
        vm: vm.name, state: vm.state, port: p.name, console: p.console, guestOpen: p.guestOpen,
        bytesIn: p.bytesIn, bytesOut: p.bytesOut, backlog: p.backlog, dropped: p.dropped, size: p.size,
        // A counter that went down (VM reconnected, port re-added) restarts the rate at 0.
        inPerSec: b && p.bytesIn >= b.bytesIn ? Math.round((p.bytesIn - b.bytesIn) / secs) : 0,
        outPerSec: b && p.bytesOut >= b.bytesOut ? Math.round((p.bytesOut - b.bytesOut) / secs) : 0,
      });
    }
  }
  return { at, rows };
}
