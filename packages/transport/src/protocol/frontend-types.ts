/** The front-end role's public shapes: its regions, queues and options (frontend.ts). */
import type { DriverQueue, QueueConfig } from '@vtcon/ring';
import type { VhostUserError } from '../errors.js';
import type { Logger } from './device.js';
import type { VhostUserProtocolFeatureName } from './codes.js';

export interface FrontendRegion {
  guestPhysAddr: number; size: number; userAddr: number; fd: number; sab: SharedArrayBuffer;
}

export interface FrontendQueue {
  index: number;
  size: number;
  driver: DriverQueue;
  config: QueueConfig;
  /** We write it to notify the back-end (guest → device). */
  kickFd: number;
  /** The back-end writes it when it used buffers (device → guest). */
  callFd: number;
}

export interface FrontendOptions {
  logger?: Logger;
  /** Called when the back-end sends BACKEND_CONFIG_CHANGE_MSG. */
  onConfigChange?: () => void;
  /** Called once when the connection ends. */
  onClose?: (err: VhostUserError | null) => void;
}

export interface NegotiateOptions {
  /** Virtio features we (the driver) accept; intersected with the back-end's. */
  features?: bigint;
  /** Protocol features we accept; intersected with the back-end's offer. Default: all supported. */
  protocolFeatures?: readonly VhostUserProtocolFeatureName[];
  /** Guest RAM regions (1 or 2) in bytes; ignored when memory already exists (reattach). */
  memory: number[];
}
