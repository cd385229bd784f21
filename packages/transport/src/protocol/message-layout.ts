/**
 * The per-request validator table (vhost-user.rst "Message Specification"): for every request
 * code and direction, the payload layout it carries and how many fds come with it. The framer
 * checks sizes against it on the header (`maxPayloadSize`), `decodeMessage` checks the rest.
 */
import { BackendRequest, FrontendRequest, VHOST_USER_MAX_CONFIG_SIZE, VHOST_USER_MAX_MEM_REGIONS, frontendRequestName, backendRequestName } from './codes.js';
import type { PayloadKind } from './message-payload.js';
import { VRING_ADDR_BYTES, VRING_STATE_BYTES } from './message-vring.js';
import { INFLIGHT_DESC_BYTES, MEM_REGION_BYTES, MEM_TABLE_HEADER_BYTES } from './message-memory.js';
import { CONFIG_HEADER_BYTES } from './message-config.js';

/** Nothing in the spec is larger than a full memory table or a full config payload. */
export const MAX_PAYLOAD_SIZE = 4096;

export type FdRule = { min: number; max: number } | 'memTable' | 'vringFile';

export interface Layout { kind: PayloadKind; fds: FdRule }
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

export function layoutFor(direction: Direction, request: number): Layout | undefined {
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
    case 'vringState': return VRING_STATE_BYTES;
    case 'vringAddr': return VRING_ADDR_BYTES;
    case 'memTable': return MEM_TABLE_HEADER_BYTES + VHOST_USER_MAX_MEM_REGIONS * MEM_REGION_BYTES;
    case 'memRegion': return 8 + MEM_REGION_BYTES;
    case 'config': return CONFIG_HEADER_BYTES + VHOST_USER_MAX_CONFIG_SIZE;
    case 'inflight': return INFLIGHT_DESC_BYTES;
    case 'log': return 16;
    case 'deviceState': return 8;
    case 'raw': return MAX_PAYLOAD_SIZE;
  }
}

/** The payload kind a request of this code carries (for tests and generators). */
export function requestPayloadKind(direction: Direction, request: number): PayloadKind | undefined {
  return layoutFor(direction, request)?.kind;
}
