/**
 * @vtcon/console — the virtio-console device (vhost-user backend device, virtio id 3), its ports,
 * piscina worker servicing, and port sinks: what a host program (the vtcon daemon) uses.
 *
 * Simulated guests (the seed's driver model) and the test harness are in `@vtcon/console/testing`.
 * Wire codecs, queue maps and engines are internal.
 */
export { ConsoleError, isConsoleError, type ConsoleErrorReason, type ConsoleErrorScope } from './errors.js';

export {
  ConsoleDevice, type ConsoleDeviceOptions, type ConsolePortOptions, type ConsoleDeviceEvents, type DeviceStats, type PortInfo,
} from './device/console-device.js';
export type { PortQueueEngine, EngineHost } from './device/engine.js';
export { GUEST_STATE_VERSION, type GuestStateWire } from './device/guest-state.js';
export type { Logger } from './device/logger.js';
export type { VhostUserDeviceLike, StartedQueueLike } from './device/vhost-device.js';
export { DEFAULT_BACKLOG_LIMIT } from './port/backlog.js';
export type { PortStats } from './port/port.js';
export type { ResizeOrder, ConsoleSize } from './control/resize.js';

export { ConsoleWorkerPool, type ConsoleWorkerPoolOptions } from './worker/pool.js';

export * from './sink/index.js';
