/**
 * The 12-byte vhost-user header (vhost-user.rst "Header": request, flags, size) and its flags:
 * version, REPLY, NEED_REPLY. `checkHeader` runs before any payload byte is read.
 */
import {
  VHOST_USER_HEADER_SIZE, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION, VHOST_USER_VERSION_MASK,
  FrontendRequest, frontendRequestName, backendRequestName,
} from './codes.js';
import { VhostUserError } from '../errors.js';
import { maxPayloadSize, type Direction } from './message-layout.js';

export interface VhostUserHeader { request: number; flags: number; size: number }

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

/** Requests whose reply carries a body (not a REPLY_ACK u64). */
const HAS_REPLY_BODY = new Set<number>([
  FrontendRequest.GET_FEATURES, FrontendRequest.GET_PROTOCOL_FEATURES, FrontendRequest.GET_VRING_BASE,
  FrontendRequest.GET_QUEUE_NUM, FrontendRequest.GET_CONFIG, FrontendRequest.GET_INFLIGHT_FD,
  FrontendRequest.GET_MAX_MEM_SLOTS, FrontendRequest.GET_STATUS,
]);

export function hasReplyBody(request: number): boolean { return HAS_REPLY_BODY.has(request); }

export function needsReply(flags: number): boolean { return (flags & VHOST_USER_NEED_REPLY_MASK) !== 0; }
export function isReply(flags: number): boolean { return (flags & VHOST_USER_REPLY_MASK) !== 0; }
export const REQUEST_FLAGS = VHOST_USER_VERSION;
export const REPLY_FLAGS = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
