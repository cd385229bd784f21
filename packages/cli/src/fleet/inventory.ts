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

/** An inventory entry readers skipped, and why. */
export interface IgnoredEntry { key: string; why: string }

// Every reader checks each entry: it is written by another host (or anyone with write access to
// the bucket), and one malformed entry must not break the listing of the others. Checked by hand,
// not with the config's zod: the client commands load without the daemon's modules.
const VM_STATES: readonly string[] = ['listening', 'connected', 'stopped'] satisfies VmState[];
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** `path: what is wrong` for the first problem of a port, VM or host record, or null. */
function portProblem(p: unknown): string | null {
  if (!isObject(p)) return ': not an object';
  if (typeof p.name !== 'string') return '.name: not a string';
  if (typeof p.console !== 'boolean' || typeof p.guestOpen !== 'boolean') return '.console/.guestOpen: not booleans';
  for (const k of ['bytesIn', 'bytesOut', 'backlog', 'streamed']) if (!isCount(p[k])) return `.${k}: not a count`;
  if (p.size !== null && !(isObject(p.size) && isCount(p.size.cols) && isCount(p.size.rows))) return '.size: not null or {cols, rows}';
  return null;
}

function vmProblem(vm: unknown): string | null {
  if (!isObject(vm)) return ': not an object';
  if (typeof vm.name !== 'string') return '.name: not a string';
  if (typeof vm.state !== 'string' || !VM_STATES.includes(vm.state)) return `.state: not one of ${VM_STATES.join(', ')}`;
  if (!Array.isArray(vm.ports)) return '.ports: not a list';
  for (const [i, p] of vm.ports.entries()) {
    const why = portProblem(p);
    if (why !== null) return `.ports.${i}${why}`;
  }
  return null;
}

function hostRecordProblem(r: unknown): string | null {
  if (!isObject(r)) return '(entry): not an object';
  if (typeof r.host !== 'string' || r.host === '') return 'host: not a non-empty string';
  if (typeof r.at !== 'string' || !ISO_TIME.test(r.at) || Number.isNaN(Date.parse(r.at))) return 'at: not an ISO time (UTC)';
  if (!isCount(r.heartbeatMs) || r.heartbeatMs === 0) return 'heartbeatMs: not a positive number';
  if (r.state !== 'up' && r.state !== 'stopped') return 'state: not "up" or "stopped"';
  if (!Number.isInteger(r.pid)) return 'pid: not an integer';
  if (!Array.isArray(r.vms)) return 'vms: not a list';
  for (const [i, vm] of r.vms.entries()) {
    const why = vmProblem(vm);
    if (why !== null) return `vms.${i}${why}`;
  }
  return null;
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

/**
 * An entry's record, or why it is skipped: not JSON, not a host record, or under another host's
 * key (an entry cannot stand in for the host it names).
 */
export function parseHostEntry(key: string, text: string): HostRecord | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  const why = hostRecordProblem(json);
  if (why !== null) return `not a host record: ${why}`;
  const r = json as HostRecord;
  if (key !== inventoryKey(r.host)) return `names host "${r.host}" under key ${key}`;
  return r;
}

/**
 * Every host's latest record, in host order. One watch of the bucket's last values. Entries that
 * parseHostEntry() refuses are left out and passed to `ignored`.
 */
export async function readInventory(nc: NatsConnection, ignored?: (e: IgnoredEntry) => void): Promise<HostRecord[]> {
  const kv = await new Kvm(nc).open(INVENTORY_BUCKET, { bindOnly: true });
  const out = new Map<string, HostRecord>();
  const status = await kv.status();
  if (status.values === 0) return [];
  const w = await kv.watch({ key: 'host.>' });
  try {
    for await (const e of w) {
      if (e.operation === 'PUT') {
        const r = parseHostEntry(e.key, e.string());
        if (typeof r === 'string') ignored?.({ key: e.key, why: r });
        else out.set(r.host, r);
      }
      if (e.delta === 0) break;
    }
  } finally {
    w.stop();
  }
  return [...out.values()].sort((a, b) => a.host.localeCompare(b.host));
}
