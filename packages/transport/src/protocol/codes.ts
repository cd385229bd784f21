/**
 * vhost-user constants, spelled as in QEMU docs/interop/vhost-user.rst ("Front-end message
 * types", "Back-end message types", "Protocol features"). Values are wire values; never renumber.
 */

/** Requests sent by the front-end (QEMU) to the back-end. */
export const FrontendRequest = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  CREATE_CRYPTO_SESSION: 26,
  CLOSE_CRYPTO_SESSION: 27,
  POSTCOPY_ADVISE: 28,
  POSTCOPY_LISTEN: 29,
  POSTCOPY_END: 30,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  GPU_SET_SOCKET: 33,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
  GET_SHARED_OBJECT: 41,
  SET_DEVICE_STATE_FD: 42,
  CHECK_DEVICE_STATE: 43,
} as const;
export type FrontendRequestName = keyof typeof FrontendRequest;
export type FrontendRequestCode = (typeof FrontendRequest)[FrontendRequestName];

/** Requests sent by the back-end on the BACKEND_REQ channel (SET_BACKEND_REQ_FD). */
export const BackendRequest = {
  IOTLB_MSG: 1,
  CONFIG_CHANGE_MSG: 2,
  VRING_HOST_NOTIFIER_MSG: 3,
  VRING_CALL: 4,
  VRING_ERR: 5,
  SHARED_OBJECT_ADD: 6,
  SHARED_OBJECT_REMOVE: 7,
  SHARED_OBJECT_LOOKUP: 8,
} as const;
export type BackendRequestName = keyof typeof BackendRequest;

const frontendNames = new Map<number, FrontendRequestName>(
  Object.entries(FrontendRequest).map(([k, v]) => [v, k as FrontendRequestName]),
);
const backendNames = new Map<number, BackendRequestName>(
  Object.entries(BackendRequest).map(([k, v]) => [v, k as BackendRequestName]),
);
export function frontendRequestName(code: number): FrontendRequestName | undefined {
  return frontendNames.get(code);
}
export function backendRequestName(code: number): BackendRequestName | undefined {
  return backendNames.get(code);
}

/** Header flags (spec "Header"): low two bits are the version, bit 2 REPLY, bit 3 NEED_REPLY. */
export const VHOST_USER_VERSION = 0x1;
export const VHOST_USER_VERSION_MASK = 0x3;
export const VHOST_USER_REPLY_MASK = 0x4;
export const VHOST_USER_NEED_REPLY_MASK = 0x8;
export const VHOST_USER_HEADER_SIZE = 12;

/** Virtio feature bit 30, reused by vhost-user to announce protocol-feature negotiation. */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

export const VhostUserProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  RARP: 2,
  REPLY_ACK: 3,
  NET_MTU: 4,
  BACKEND_REQ: 5,
  CROSS_ENDIAN: 6,
  CRYPTO_SESSION: 7,
  PAGEFAULT: 8,
  CONFIG: 9,
  BACKEND_SEND_FD: 10,
  HOST_NOTIFIER: 11,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  INBAND_NOTIFICATIONS: 14,
  CONFIGURE_MEM_SLOTS: 15,
  STATUS: 16,
  XEN_MMAP: 17,
  SHARED_OBJECT: 18,
  DEVICE_STATE: 19,
} as const;
export type VhostUserProtocolFeatureName = keyof typeof VhostUserProtocolFeature;

export function protocolFeatureMask(names: readonly VhostUserProtocolFeatureName[]): bigint {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(VhostUserProtocolFeature[n]);
  return m;
}

/** The protocol features this implementation supports; a backend may offer a subset. */
export const SUPPORTED_PROTOCOL_FEATURES: readonly VhostUserProtocolFeatureName[] = [
  'MQ', 'REPLY_ACK', 'CONFIG', 'BACKEND_REQ', 'INFLIGHT_SHMFD', 'RESET_DEVICE', 'STATUS', 'CONFIGURE_MEM_SLOTS',
];

/** SET_MEM_TABLE carries at most this many regions (spec: "region0 ... region7"). */
export const VHOST_USER_MAX_MEM_REGIONS = 8;
/** QEMU's VHOST_USER_MAX_CONFIG_SIZE: a GET/SET_CONFIG payload carries at most 256 bytes. */
export const VHOST_USER_MAX_CONFIG_SIZE = 256;
/** Virtio split queues are at most 32768 entries (virtio 1.2 §2.7: "Queue Size ... max 32768"). */
export const VIRTQUEUE_MAX_SIZE = 32768;
/** SET_VRING_KICK/CALL/ERR u64: bits 0-7 are the vring index, bit 8 says "no fd, poll instead". */
export const VHOST_USER_VRING_IDX_MASK = 0xffn;
export const VHOST_USER_VRING_NOFD_MASK = 0x100n;
/**
 * The most queues a vhost-user device can have: SET_VRING_KICK/CALL/ERR name the queue in 8 bits
 * (above), so a queue 256 or later can get no kick or call fd. QEMU masks the index
 * (hw/virtio/vhost-user.c vhost_set_vring_file: `file->index & VHOST_USER_VRING_IDX_MASK`): its
 * queue 256's fds would replace queue 0's.
 */
export const VHOST_USER_MAX_QUEUES = 256;
/** VHOST_USER_SET_CONFIG flags values. */
export const VHOST_SET_CONFIG_TYPE_FRONTEND = 0;
export const VHOST_SET_CONFIG_TYPE_MIGRATION = 1;
/** Virtio device status bits used by SET_STATUS (virtio 1.2 §2.1). */
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
