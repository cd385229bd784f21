/**
 * The payload of a vhost-user message, one variant per layout the spec defines, and its
 * encoding. The structs themselves are in message-vring.ts, message-memory.ts and
 * message-config.ts; which request carries which payload is in message-layout.ts.
 */
import {
  VRING_ADDR_BYTES, VRING_STATE_BYTES, writeVringAddr, writeVringState, type VringAddr, type VringState,
} from './message-vring.js';
import {
  INFLIGHT_DESC_BYTES, MEM_REGION_BYTES, MEM_TABLE_HEADER_BYTES, writeInflight, writeMemTable, writeRegion,
  type InflightDescription, type LogDescription, type MemoryRegionDescription,
} from './message-memory.js';
import { CONFIG_HEADER_BYTES, writeConfig, type ConfigSpace } from './message-config.js';

export interface DeviceStateDescription { direction: number; phase: number }

export type Payload =
  | { kind: 'none' }
  | { kind: 'u64'; value: bigint }
  | { kind: 'vringState'; state: VringState }
  | { kind: 'vringAddr'; addr: VringAddr }
  | { kind: 'memTable'; regions: MemoryRegionDescription[] }
  | { kind: 'memRegion'; region: MemoryRegionDescription }
  | { kind: 'config'; config: ConfigSpace }
  | { kind: 'inflight'; inflight: InflightDescription }
  | { kind: 'log'; log: LogDescription }
  | { kind: 'deviceState'; state: DeviceStateDescription }
  | { kind: 'raw'; bytes: Uint8Array };
export type PayloadKind = Payload['kind'];

export function dvOf(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

function payloadSize(p: Payload): number {
  switch (p.kind) {
    case 'none': return 0;
    case 'u64': return 8;
    case 'vringState': return VRING_STATE_BYTES;
    case 'vringAddr': return VRING_ADDR_BYTES;
    case 'memTable': return MEM_TABLE_HEADER_BYTES + p.regions.length * MEM_REGION_BYTES;
    case 'memRegion': return 8 + MEM_REGION_BYTES;
    case 'config': return CONFIG_HEADER_BYTES + p.config.data.byteLength;
    case 'inflight': return INFLIGHT_DESC_BYTES;
    case 'log': return 16;
    case 'deviceState': return 8;
    case 'raw': return p.bytes.byteLength;
  }
}

export function encodePayload(p: Payload): Uint8Array {
  const out = new Uint8Array(payloadSize(p));
  const dv = dvOf(out);
  switch (p.kind) {
    case 'none': break;
    case 'u64': dv.setBigUint64(0, p.value, true); break;
    case 'vringState': writeVringState(dv, p.state); break;
    case 'vringAddr': writeVringAddr(dv, p.addr); break;
    case 'memTable': writeMemTable(dv, p.regions); break;
    case 'memRegion': writeRegion(dv, 8, p.region); break;
    case 'config': writeConfig(dv, out, p.config); break;
    case 'inflight': writeInflight(dv, p.inflight); break;
    case 'log': dv.setBigUint64(0, p.log.mmapSize, true); dv.setBigUint64(8, p.log.mmapOffset, true); break;
    case 'deviceState': dv.setUint32(0, p.state.direction >>> 0, true); dv.setUint32(4, p.state.phase >>> 0, true); break;
    case 'raw': out.set(p.bytes); break;
  }
  return out;
}
