/**
 * The device interface @vtcon/transport's VhostUserBackend serves. One definition lives in the
 * transport (protocol/device.ts); these aliases keep the console's historical names.
 */
export type {
  VhostUserDevice as VhostUserDeviceLike,
  StartedQueue as StartedQueueLike,
  BackendChannel as BackendChannelLike,
} from '@vtcon/transport';
