// The fleet inventory: one KV entry per host (key host.<host>) with its VMs and ports, rewritten
// every heartbeat. No KV TTL: a host that stops keeps its entry (its logs stay readable from the
// stream), and readers call it down once its entry is older than DOWN_AFTER heartbeats. The bound
// is therefore DOWN_AFTER × heartbeat after the last beat, plus the clock skew between hosts.
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { VmInfo, VmState } from '../daemon/fleet.js';
import { INVENTORY_BUCKET, inventoryKey } from './names.js';

export const DOWN_AFTER = 3;

export interface InventoryPort {
  name: string;
  console: boolean;
  guestOpen: boolean;
  bytesIn: number;
  bytesOut: number;
  backlog: number;
  size: { cols: number; rows: number } | null;
  /** Bytes of the port's log history already in the output stream. */
  streamed: number;
}

export interface InventoryVm { name: string; state: VmState; ports: InventoryPort[] }

export interface HostRecord {
  host: string;
  /** Last heartbeat (ISO time of the writer's clock). */
  at: string;
  heartbeatMs: number;
  /** 'stopped' after a clean daemon stop; otherwise readers judge by `at`. */
  state: 'up' | 'stopped';
  pid: number;
  vms: InventoryVm[];
}

export type HostStatus = 'up' | 'down' | 'stopped';

export function hostStatus(r: HostRecord, now = Date.now()): HostStatus {
  if (r.state === 'stopped') return 'stopped';
  return now - Date.parse(r.at) > DOWN_AFTER * r.heartbeatMs ? 'down' : 'up';
}

export function hostRecord(host: string, heartbeatMs: number, vms: VmInfo[], streamed: (vm: string, port: string) => number, state: HostRecord['state'] = 'up'): HostRecord {
  return {
    host, at: new Date().toISOString(), heartbeatMs, state, pid: process.pid,
    vms: vms.map((v) => ({
      name: v.name, state: v.state,
      ports: v.ports.map((p) => ({
        name: p.name, console: p.console, guestOpen: p.guestOpen, bytesIn: p.bytesIn, bytesOut: p.bytesOut,
        backlog: p.backlog, size: p.size, streamed: streamed(v.name, p.name),
      })),
    })),
  };
}

/** The bucket for writers (created on first use; needs JetStream API permission). */
export function createInventory(nc: NatsConnection, replicas = 1): Promise<KV> {
  return new Kvm(nc).create(INVENTORY_BUCKET, { history: 1, replicas });
}

export async function putHost(kv: KV, r: HostRecord): Promise<void> {
  await kv.put(inventoryKey(r.host), JSON.stringify(r));
}

/** Every host's latest record, in host order. One watch of the bucket's last values. */
export async function readInventory(nc: NatsConnection): Promise<HostRecord[]> {
  const kv = await new Kvm(nc).open(INVENTORY_BUCKET, { bindOnly: true });
  const out = new Map<string, HostRecord>();
  const status = await kv.status();
  if (status.values === 0) return [];
  const w = await kv.watch({ key: 'host.>' });
  try {
    for await (const e of w) {
      if (e.operation === 'PUT') {
        try {
          const r = JSON.parse(e.string()) as HostRecord;
          out.set(r.host, r);
        } catch {
          // a malformed entry is one host's problem; the others still list
        }
      }
      if (e.delta === 0) break;
    }
  } finally {
    w.stop();
  }
  return [...out.values()].sort((a, b) => a.host.localeCompare(b.host));
}
