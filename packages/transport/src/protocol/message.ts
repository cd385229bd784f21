/**
 * vhost-user wire codec (QEMU docs/interop/vhost-user.rst, "Message Specification").
 * Pure: no I/O, no fds opened or closed. All numbers are little-endian (the spec says "machine
 * native byte order"; every platform vtcon runs on is little-endian). u64 fields stay `bigint`
 * here so decode∘encode is exact for any wire value; range checks against JS numbers happen in
 * the layers that use them (memory/, backend-*.ts).
 *
 * One validator per request (`REQUEST_LAYOUT`, message-layout.ts): the payload layout, the size
 * it must have, and how many fds it carries. `decodeMessage` checks code → size → fds →
 * layout-specific fields, in that order, before any payload field is read.
 *
 * The header is in message-header.ts, the payload union and its encoding in message-payload.ts,
 * the payload structs by family in message-vring.ts, message-memory.ts and message-config.ts.
 */
import { VHOST_USER_HEADER_SIZE, VHOST_USER_MAX_CONFIG_SIZE, VHOST_USER_MAX_MEM_REGIONS, VHOST_USER_VRING_NOFD_MASK } from './codes.js';
import { VhostUserError } from '../errors.js';
import { describeRequest, encodeHeader, type VhostUserHeader } from './message-header.js';
import { layoutFor, type Direction } from './message-layout.js';
import { dvOf, encodePayload, type Payload } from './message-payload.js';
import { VRING_ADDR_BYTES, VRING_STATE_BYTES, readVringAddr, readVringState } from './message-vring.js';
import { INFLIGHT_DESC_BYTES, MEM_REGION_BYTES, MEM_TABLE_HEADER_BYTES, readInflight, readRegion, type MemoryRegionDescription } from './message-memory.js';
import { CONFIG_HEADER_BYTES, readConfig } from './message-config.js';

export interface VhostUserMessage {
  request: number;
  flags: number;
  payload: Payload;
  /** fds received/sent with this message (SCM_RIGHTS); owned by whoever holds the message. */
  fds: number[];
}

/** Whole message (header + payload) as one buffer, ready for one sendmsg. */
export function encodeMessage(m: Omit<VhostUserMessage, 'fds'>): Uint8Array {
  const payload = encodePayload(m.payload);
  const out = new Uint8Array(VHOST_USER_HEADER_SIZE + payload.byteLength);
  encodeHeader({ request: m.request, flags: m.flags, size: payload.byteLength }, out);
  out.set(payload, VHOST_USER_HEADER_SIZE);
  return out;
}

function sizeMismatch(what: string, got: number, want: number | string): VhostUserError {
  return new VhostUserError('PAYLOAD_SIZE_MISMATCH', `${what}: size ${got}, expected ${want}`);
}

function checkFds(what: string, fds: number, min: number, max: number): void {
  if (fds < min) throw new VhostUserError('MISSING_FD', `${what}: ${fds} fds, needs ${min}`);
  if (fds > max) throw new VhostUserError('UNEXPECTED_FD', `${what}: ${fds} fds, allows ${max}`);
}

/**
 * Decode and validate one framed message. Throws VhostUserError (reasons UNKNOWN_REQUEST,
 * PAYLOAD_SIZE_MISMATCH, MISSING_FD, UNEXPECTED_FD, MEM_TABLE_EMPTY, MEM_TABLE_TOO_MANY,
 * CONFIG_OUT_OF_RANGE). Never takes ownership of fds: on throw, the caller still owns them.
 */
export function decodeMessage(header: VhostUserHeader, payload: Uint8Array, fds: number[], direction: Direction): VhostUserMessage {
  const what = describeRequest(direction, header.request);
  const layout = layoutFor(direction, header.request);
  if (layout === undefined) throw new VhostUserError('UNKNOWN_REQUEST', `${what} is not a vhost-user ${direction}`, { scope: 'none' });
  if (payload.byteLength !== header.size) throw sizeMismatch(what, payload.byteLength, header.size);
  const size = header.size;
  const dv = dvOf(payload);
  const fixed = (n: number): void => { if (size !== n) throw sizeMismatch(what, size, n); };
  let p: Payload;
  switch (layout.kind) {
    case 'none': fixed(0); p = { kind: 'none' }; break;
    case 'u64': fixed(8); p = { kind: 'u64', value: dv.getBigUint64(0, true) }; break;
    case 'vringState': fixed(VRING_STATE_BYTES); p = { kind: 'vringState', state: readVringState(dv) }; break;
    case 'vringAddr': fixed(VRING_ADDR_BYTES); p = { kind: 'vringAddr', addr: readVringAddr(dv) }; break;
    case 'memTable': {
      if (size < MEM_TABLE_HEADER_BYTES) throw sizeMismatch(what, size, `>= ${MEM_TABLE_HEADER_BYTES}`);
      const n = dv.getUint32(0, true);
      if (n === 0) throw new VhostUserError('MEM_TABLE_EMPTY', `${what} with 0 regions`);
      if (n > VHOST_USER_MAX_MEM_REGIONS) throw new VhostUserError('MEM_TABLE_TOO_MANY', `${what} with ${n} regions > ${VHOST_USER_MAX_MEM_REGIONS}`);
      // QEMU sends only the n regions it uses; some front-ends send the full 8-slot array.
      const exact = MEM_TABLE_HEADER_BYTES + n * MEM_REGION_BYTES;
      const full = MEM_TABLE_HEADER_BYTES + VHOST_USER_MAX_MEM_REGIONS * MEM_REGION_BYTES;
      if (size !== exact && size !== full) throw sizeMismatch(what, size, `${exact} (or ${full})`);
      const regions: MemoryRegionDescription[] = [];
      for (let i = 0; i < n; i++) regions.push(readRegion(dv, MEM_TABLE_HEADER_BYTES + i * MEM_REGION_BYTES));
      p = { kind: 'memTable', regions };
      break;
    }
    case 'memRegion': fixed(8 + MEM_REGION_BYTES); p = { kind: 'memRegion', region: readRegion(dv, 8) }; break;
    case 'config': {
      if (size < CONFIG_HEADER_BYTES) throw sizeMismatch(what, size, `>= ${CONFIG_HEADER_BYTES}`);
      const cfgSize = dv.getUint32(4, true);
      if (cfgSize > VHOST_USER_MAX_CONFIG_SIZE) {
        throw new VhostUserError('CONFIG_OUT_OF_RANGE', `${what} config size ${cfgSize} > ${VHOST_USER_MAX_CONFIG_SIZE}`);
      }
      // A GET_CONFIG reply of size 0 is the spec's way for a back-end to say "failed".
      if (!(direction === 'reply' && size === 0)) fixed(CONFIG_HEADER_BYTES + cfgSize);
      p = { kind: 'config', config: readConfig(dv, payload) };
      break;
    }
    case 'inflight': fixed(INFLIGHT_DESC_BYTES); p = { kind: 'inflight', inflight: readInflight(dv) }; break;
    case 'log':
      // Legacy SET_LOG_BASE (no LOG_SHMFD) is a bare u64.
      if (size === 8) p = { kind: 'log', log: { mmapSize: 0n, mmapOffset: dv.getBigUint64(0, true) } };
      else { fixed(16); p = { kind: 'log', log: { mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true) } }; }
      break;
    case 'deviceState': fixed(8); p = { kind: 'deviceState', state: { direction: dv.getUint32(0, true), phase: dv.getUint32(4, true) } }; break;
    case 'raw': p = { kind: 'raw', bytes: payload.slice() }; break;
  }
  const rule = layout.fds;
  if (rule === 'memTable') {
    const n = (p as { regions: unknown[] }).regions.length;
    checkFds(what, fds.length, n, n);
  } else if (rule === 'vringFile') {
    const noFd = ((p as { value: bigint }).value & VHOST_USER_VRING_NOFD_MASK) !== 0n;
    checkFds(what, fds.length, noFd ? 0 : 1, noFd ? 0 : 1);
  } else {
    checkFds(what, fds.length, rule.min, rule.max);
  }
  return { request: header.request, flags: header.flags, payload: p, fds };
}
