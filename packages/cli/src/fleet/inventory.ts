// The fleet inventory: one KV entry per host (key host.<host>) with its VMs and ports, rewritten
// every heartbeat. No KV TTL: a host that stops keeps its entry (its logs stay readable from the
// stream), and readers call it down once its entry is older than DOWN_AFTER heartbeats. The bound
// is therefore DOWN_AFTER × heartbeat after the last beat, plus the clock skew between hosts.
import { Kvm, type KV } from '@nats-io/kv';
import { z } from 'zod';
import type { NatsConnection } from '@nats-io/transport-node';
import type { VmInfo, VmState } from '../daemon/fleet.js';
import { INVENTORY_BUCKET, inventoryKey } from './names.js';

export const DOWN_AFTER = 3;

const VM_STATES = ['listening', 'connected', 'stopped'] as const satisfies readonly VmState[];

const inventoryPortSchema = z.object({
  name: z.string(),
  console: z.boolean(),
  guestOpen: z.boolean(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  backlog: z.number(),
  size: z.object({ cols: z.number(), rows: z.number() }).nullable(),
  /** Bytes of the port's log history already in the output stream. */
  streamed: z.number(),
});

const inventoryVmSchema = z.object({ name: z.string(), state: z.enum(VM_STATES), ports: z.array(inventoryPortSchema) });

/**
 * One host's entry. Every reader checks it: an entry is written by another host (or anyone with
 * write access to the bucket), and one malformed entry must not break the listing of the others.
 */
const hostRecordSchema = z.object({
  host: z.string().min(1),
  /** Last heartbeat (ISO time of the writer's clock). */
  at: z.iso.datetime(),
  heartbeatMs: z.number().positive(),
  /** 'stopped' after a clean daemon stop; otherwise readers judge by `at`. */
  state: z.enum(['up', 'stopped']),
  pid: z.number().int(),
  vms: z.array(inventoryVmSchema),
});

export type InventoryPort = z.infer<typeof inventoryPortSchema>;
export type InventoryVm = z.infer<typeof inventoryVmSchema>;
export type HostRecord = z.infer<typeof hostRecordSchema>;

/** An inventory entry readers skipped, and why. */
export interface IgnoredEntry { key: string; why: string }

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
  const r = hostRecordSchema.safeParse(json);
  if (!r.success) return `not a host record: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`).join('; ')}`;
  if (key !== inventoryKey(r.data.host)) return `names host "${r.data.host}" under key ${key}`;
  return r.data;
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
