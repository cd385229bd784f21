/**
 * vhost-user wire codec (QEMU docs/interop/vhost-user.rst, "Message Specification").
 * Pure: no I/O, no fds opened or closed. All numbers are little-endian (the spec says "machine
 * native byte order"; every platform vtcon runs on is little-endian). u64 fields stay `bigint`
 * here so decode∘encode is exact for any wire value; range checks against JS numbers happen in
 * the layers that use them (memory/, backend.ts).
 *
 * One validator per request (`REQUEST_LAYOUT`): the payload layout, the size it must have, and
 * how many fds it carries. `decodeMessage` checks code → size → fds → layout-specific fields,
 * in that order, before any payload field is read.
 */
import {
  BackendRequest,
  FrontendRequest,
  VHOST_USER_HEADER_SIZE,
  VHOST_USER_MAX_CONFIG_SIZE,
  VHOST_USER_MAX_MEM_REGIONS,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
  VHOST_USER_VERSION_MASK,
  VHOST_USER_VRING_NOFD_MASK,
  frontendRequestName,
  backendRequestName,
} from './codes.js';
import { VhostUserError } from '../errors.js';

export interface VhostUserHeader { request: number; flags: number; size: number }

export interface MemoryRegionDescription { guestPhysAddr: bigint; memorySize: bigint; userAddr: bigint; mmapOffset: bigint }
export interface VringState { index: number; num: number }
export interface VringAddr {
  index: number; flags: number;
  descUserAddr: bigint; usedUserAddr: bigint; availUserAddr: bigint; logGuestAddr: bigint;
}
export interface ConfigSpace { offset: number; size: number; flags: number; data: Uint8Array }
export interface InflightDescription { mmapSize: bigint; mmapOffset: bigint; numQueues: number; queueSize: number }
export interface LogDescription { mmapSize: bigint; mmapOffset: bigint }
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

export interface VhostUserMessage {
  request: number;
  flags: number;
  payload: Payload;
  /** fds received/sent with this message (SCM_RIGHTS); owned by whoever holds the message. */
  fds: number[];
}

export const MEM_REGION_BYTES = 32;
export const MEM_TABLE_HEADER_BYTES = 8;
export const CONFIG_HEADER_BYTES = 12;
/** C struct VhostUserInflight {u64, u64, u16, u16} has 4 bytes of tail padding: sizeof is 24. */
export const INFLIGHT_DESC_BYTES = 24;
/** Nothing in the spec is larger than a full memory table or a full config payload. */
export const MAX_PAYLOAD_SIZE = 4096;

type FdRule = { min: number; max: number } | 'memTable' | 'vringFile';

interface Layout { kind: PayloadKind; fds: FdRule }
const NONE: Layout = { kind: 'none', fds: { min: 0, max: 0 } };
const U64: Layout = { kind: 'u64', fds: { min: 0, max: 0 } };
const STATE: Layout = { kind: 'vringState', fds: { min: 0, max: 0 } };
const ONE_FD = { min: 1, max: 1 };

/** Request payload layout per front-end request (the per-message validator table). */
const REQUEST_LAYOUT: Record<number, Layout> = {
  [FrontendRequest.GET_FEATURES]: NONE,
  [FrontendRequest.SET_FEATURES]: U64,
  [FrontendRequest.SET_OWNER]: NONE,
  [FrontendRequest.RESET_OWNER]: NONE,
  [FrontendRequest.SET_MEM_TABLE]: { kind: 'memTable', fds: 'memTable' },
  // With LOG_SHMFD the log fd rides along; without, SET_LOG_BASE is a bare u64 (legacy).
  [FrontendRequest.SET_LOG_BASE]: { kind: 'log', fds: { min: 0, max: 1 } },
  [FrontendRequest.SET_LOG_FD]: { kind: 'none', fds: ONE_FD },
  [FrontendRequest.SET_VRING_NUM]: STATE,
  [FrontendRequest.SET_VRING_ADDR]: { kind: 'vringAddr', fds: { min: 0, max: 0 } },
  [FrontendRequest.SET_VRING_BASE]: STATE,
  [FrontendRequest.GET_VRING_BASE]: STATE,
  [FrontendRequest.SET_VRING_KICK]: { kind: 'u64', fds: 'vringFile' },
  [FrontendRequest.SET_VRING_CALL]: { kind: 'u64', fds: 'vringFile' },
  [FrontendRequest.SET_VRING_ERR]: { kind: 'u64', fds: 'vringFile' },
  [FrontendRequest.GET_PROTOCOL_FEATURES]: NONE,
  [FrontendRequest.SET_PROTOCOL_FEATURES]: U64,
  [FrontendRequest.GET_QUEUE_NUM]: NONE,
  [FrontendRequest.SET_VRING_ENABLE]: STATE,
  [FrontendRequest.SEND_RARP]: U64,
  [FrontendRequest.NET_SET_MTU]: U64,
  [FrontendRequest.SET_BACKEND_REQ_FD]: { kind: 'none', fds: ONE_FD },
  [FrontendRequest.IOTLB_MSG]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [FrontendRequest.SET_VRING_ENDIAN]: STATE,
  [FrontendRequest.GET_CONFIG]: { kind: 'config', fds: { min: 0, max: 0 } },
  [FrontendRequest.SET_CONFIG]: { kind: 'config', fds: { min: 0, max: 0 } },
  [FrontendRequest.CREATE_CRYPTO_SESSION]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [FrontendRequest.CLOSE_CRYPTO_SESSION]: U64,
  [FrontendRequest.POSTCOPY_ADVISE]: NONE,
  [FrontendRequest.POSTCOPY_LISTEN]: NONE,
  [FrontendRequest.POSTCOPY_END]: NONE,
  [FrontendRequest.GET_INFLIGHT_FD]: { kind: 'inflight', fds: { min: 0, max: 0 } },
  [FrontendRequest.SET_INFLIGHT_FD]: { kind: 'inflight', fds: ONE_FD },
  [FrontendRequest.GPU_SET_SOCKET]: { kind: 'none', fds: ONE_FD },
  [FrontendRequest.RESET_DEVICE]: NONE,
  [FrontendRequest.VRING_KICK]: STATE,
  [FrontendRequest.GET_MAX_MEM_SLOTS]: NONE,
  [FrontendRequest.ADD_MEM_REG]: { kind: 'memRegion', fds: ONE_FD },
  // Spec: "No file descriptors SHOULD be passed ... the back-end MAY accept messages with one".
  [FrontendRequest.REM_MEM_REG]: { kind: 'memRegion', fds: { min: 0, max: 1 } },
  [FrontendRequest.SET_STATUS]: U64,
  [FrontendRequest.GET_STATUS]: NONE,
  [FrontendRequest.GET_SHARED_OBJECT]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [FrontendRequest.SET_DEVICE_STATE_FD]: { kind: 'deviceState', fds: ONE_FD },
  [FrontendRequest.CHECK_DEVICE_STATE]: NONE,
};

/**
 * Reply payload layout for requests that have an explicit reply body. Everything else answers
 * NEED_REPLY with a u64 (0 = success), spec "REPLY_ACK".
 */
const REPLY_LAYOUT: Record<number, Layout> = {
  [FrontendRequest.GET_FEATURES]: U64,
  [FrontendRequest.GET_PROTOCOL_FEATURES]: U64,
  [FrontendRequest.GET_VRING_BASE]: STATE,
  [FrontendRequest.GET_QUEUE_NUM]: U64,
  [FrontendRequest.GET_CONFIG]: { kind: 'config', fds: { min: 0, max: 0 } },
  [FrontendRequest.GET_INFLIGHT_FD]: { kind: 'inflight', fds: ONE_FD },
  [FrontendRequest.GET_MAX_MEM_SLOTS]: U64,
  [FrontendRequest.GET_STATUS]: U64,
  [FrontendRequest.SET_DEVICE_STATE_FD]: { kind: 'u64', fds: { min: 0, max: 1 } },
  [FrontendRequest.CHECK_DEVICE_STATE]: U64,
  [FrontendRequest.POSTCOPY_END]: U64,
  [FrontendRequest.IOTLB_MSG]: U64,
};
const ACK_LAYOUT: Layout = U64;

/** Requests the back-end sends on the BACKEND_REQ channel. */
const BACKEND_REQUEST_LAYOUT: Record<number, Layout> = {
  [BackendRequest.IOTLB_MSG]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [BackendRequest.CONFIG_CHANGE_MSG]: NONE,
  [BackendRequest.VRING_HOST_NOTIFIER_MSG]: { kind: 'raw', fds: { min: 0, max: 1 } },
  [BackendRequest.VRING_CALL]: STATE,
  [BackendRequest.VRING_ERR]: STATE,
  [BackendRequest.SHARED_OBJECT_ADD]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [BackendRequest.SHARED_OBJECT_REMOVE]: { kind: 'raw', fds: { min: 0, max: 0 } },
  [BackendRequest.SHARED_OBJECT_LOOKUP]: { kind: 'raw', fds: { min: 0, max: 0 } },
};

/** Which side of which channel a message travels: selects the validator table. */
export type Direction = 'request' | 'reply' | 'backendRequest' | 'backendReply';

function layoutFor(direction: Direction, request: number): Layout | undefined {
  switch (direction) {
    case 'request': return REQUEST_LAYOUT[request];
    case 'reply': return frontendRequestName(request) === undefined ? undefined : (REPLY_LAYOUT[request] ?? ACK_LAYOUT);
    case 'backendRequest': return BACKEND_REQUEST_LAYOUT[request];
    case 'backendReply': return backendRequestName(request) === undefined ? undefined : ACK_LAYOUT;
  }
}

/** Largest payload a message of this code may carry in this direction; checked on the header. */
export function maxPayloadSize(direction: Direction, request: number): number {
  const l = layoutFor(direction, request);
  if (l === undefined) return MAX_PAYLOAD_SIZE; // framed anyway so the stream stays in sync; rejected on decode
  switch (l.kind) {
    case 'none': return 0;
    case 'u64': return 8;
    case 'vringState': return 8;
    case 'vringAddr': return 40;
    case 'memTable': return MEM_TABLE_HEADER_BYTES + VHOST_USER_MAX_MEM_REGIONS * MEM_REGION_BYTES;
    case 'memRegion': return 8 + MEM_REGION_BYTES;
    case 'config': return CONFIG_HEADER_BYTES + VHOST_USER_MAX_CONFIG_SIZE;
    case 'inflight': return INFLIGHT_DESC_BYTES;
    case 'log': return 16;
    case 'deviceState': return 8;
    case 'raw': return MAX_PAYLOAD_SIZE;
  }
}

// ---------------------------------------------------------------- header

export function encodeHeader(h: VhostUserHeader, out = new Uint8Array(VHOST_USER_HEADER_SIZE)): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(0, h.request >>> 0, true);
  dv.setUint32(4, h.flags >>> 0, true);
  dv.setUint32(8, h.size >>> 0, true);
  return out;
}

export function decodeHeader(bytes: Uint8Array): VhostUserHeader {
  if (bytes.byteLength < VHOST_USER_HEADER_SIZE) {
    throw new VhostUserError('HEADER_SHORT', `header needs ${VHOST_USER_HEADER_SIZE} bytes, got ${bytes.byteLength}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, VHOST_USER_HEADER_SIZE);
  return { request: dv.getUint32(0, true), flags: dv.getUint32(4, true), size: dv.getUint32(8, true) };
}

/** Header-level checks done before any payload byte is read (framer). */
export function checkHeader(h: VhostUserHeader, direction: Direction): void {
  if ((h.flags & VHOST_USER_VERSION_MASK) !== VHOST_USER_VERSION) {
    throw new VhostUserError('VERSION_MISMATCH', `flags 0x${h.flags.toString(16)}: version must be ${VHOST_USER_VERSION}`);
  }
  const max = maxPayloadSize(direction, h.request);
  if (h.size > max) {
    throw new VhostUserError('PAYLOAD_TOO_LARGE', `${describeRequest(direction, h.request)} size ${h.size} > ${max}`);
  }
}

export function describeRequest(direction: Direction, request: number): string {
  const name = direction === 'backendRequest' || direction === 'backendReply' ? backendRequestName(request) : frontendRequestName(request);
  return name ?? `request ${request}`;
}

// ---------------------------------------------------------------- payloads

function dvOf(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

function payloadSize(p: Payload): number {
  switch (p.kind) {
    case 'none': return 0;
    case 'u64': return 8;
    case 'vringState': return 8;
    case 'vringAddr': return 40;
    case 'memTable': return MEM_TABLE_HEADER_BYTES + p.regions.length * MEM_REGION_BYTES;
    case 'memRegion': return 8 + MEM_REGION_BYTES;
    case 'config': return CONFIG_HEADER_BYTES + p.config.data.byteLength;
    case 'inflight': return INFLIGHT_DESC_BYTES;
    case 'log': return 16;
    case 'deviceState': return 8;
    case 'raw': return p.bytes.byteLength;
  }
}

function writeRegion(dv: DataView, off: number, r: MemoryRegionDescription): void {
  dv.setBigUint64(off, r.guestPhysAddr, true);
  dv.setBigUint64(off + 8, r.memorySize, true);
  dv.setBigUint64(off + 16, r.userAddr, true);
  dv.setBigUint64(off + 24, r.mmapOffset, true);
}
function readRegion(dv: DataView, off: number): MemoryRegionDescription {
  return {
    guestPhysAddr: dv.getBigUint64(off, true),
    memorySize: dv.getBigUint64(off + 8, true),
    userAddr: dv.getBigUint64(off + 16, true),
    mmapOffset: dv.getBigUint64(off + 24, true),
  };
}

export function encodePayload(p: Payload): Uint8Array {
  const out = new Uint8Array(payloadSize(p));
  const dv = dvOf(out);
  switch (p.kind) {
    case 'none': break;
    case 'u64': dv.setBigUint64(0, p.value, true); break;
    case 'vringState': dv.setUint32(0, p.state.index >>> 0, true); dv.setUint32(4, p.state.num >>> 0, true); break;
    case 'vringAddr':
      dv.setUint32(0, p.addr.index >>> 0, true);
      dv.setUint32(4, p.addr.flags >>> 0, true);
      dv.setBigUint64(8, p.addr.descUserAddr, true);
      dv.setBigUint64(16, p.addr.usedUserAddr, true);
      dv.setBigUint64(24, p.addr.availUserAddr, true);
      dv.setBigUint64(32, p.addr.logGuestAddr, true);
      break;
    case 'memTable':
      dv.setUint32(0, p.regions.length, true);
      p.regions.forEach((r, i) => writeRegion(dv, MEM_TABLE_HEADER_BYTES + i * MEM_REGION_BYTES, r));
      break;
    case 'memRegion': writeRegion(dv, 8, p.region); break;
    case 'config':
      dv.setUint32(0, p.config.offset >>> 0, true);
      dv.setUint32(4, p.config.size >>> 0, true);
      dv.setUint32(8, p.config.flags >>> 0, true);
      out.set(p.config.data, CONFIG_HEADER_BYTES);
      break;
    case 'inflight':
      dv.setBigUint64(0, p.inflight.mmapSize, true);
      dv.setBigUint64(8, p.inflight.mmapOffset, true);
      dv.setUint16(16, p.inflight.numQueues, true);
      dv.setUint16(18, p.inflight.queueSize, true);
      break;
    case 'log': dv.setBigUint64(0, p.log.mmapSize, true); dv.setBigUint64(8, p.log.mmapOffset, true); break;
    case 'deviceState': dv.setUint32(0, p.state.direction >>> 0, true); dv.setUint32(4, p.state.phase >>> 0, true); break;
    case 'raw': out.set(p.bytes); break;
  }
  return out;
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
    case 'vringState': fixed(8); p = { kind: 'vringState', state: { index: dv.getUint32(0, true), num: dv.getUint32(4, true) } }; break;
    case 'vringAddr':
      fixed(40);
      p = { kind: 'vringAddr', addr: {
        index: dv.getUint32(0, true), flags: dv.getUint32(4, true),
        descUserAddr: dv.getBigUint64(8, true), usedUserAddr: dv.getBigUint64(16, true),
        availUserAddr: dv.getBigUint64(24, true), logGuestAddr: dv.getBigUint64(32, true),
      } };
      break;
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
      p = { kind: 'config', config: {
        offset: dv.getUint32(0, true), size: cfgSize, flags: dv.getUint32(8, true),
        data: payload.slice(CONFIG_HEADER_BYTES, CONFIG_HEADER_BYTES + cfgSize),
      } };
      break;
    }
    case 'inflight':
      fixed(INFLIGHT_DESC_BYTES);
      p = { kind: 'inflight', inflight: {
        mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true),
        numQueues: dv.getUint16(16, true), queueSize: dv.getUint16(18, true),
      } };
      break;
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

export function needsReply(flags: number): boolean { return (flags & VHOST_USER_NEED_REPLY_MASK) !== 0; }
export function isReply(flags: number): boolean { return (flags & VHOST_USER_REPLY_MASK) !== 0; }
export const REQUEST_FLAGS = VHOST_USER_VERSION;
export const REPLY_FLAGS = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;

/** The payload kind a request of this code carries (for tests and generators). */
export function requestPayloadKind(direction: Direction, request: number): PayloadKind | undefined {
  return layoutFor(direction, request)?.kind;
}
