/**
 * @vtcon/console — the virtio-console device (vhost-user backend device, virtio id 3), its ports,
 * the seed's driver model (simulated guests), piscina worker servicing, and port sinks.
 *
 * Public surface, by data-path order: control/ (wire codecs), device/ (ConsoleDevice), port/
 * (per-port state), worker/ (ConsoleWorkerPool), sink/ (scrollback, log files, attach), driver/
 * (the seed model beside the path: VtconDriver, SimulatedGuest, harness helpers).
 */
export { ConsoleError, isConsoleError, type ConsoleErrorReason, type ConsoleErrorScope } from './errors.js';
export * from './control/index.js';

export {
  ConsoleDevice, type ConsoleDeviceOptions, type ConsolePortOptions, type ConsoleDeviceEvents, type DeviceStats, type PortInfo,
} from './device/console-device.js';
export {
  VIRTIO_CONSOLE_CONFIG_SIZE, encodeConfig, decodeConfig, readConfigRange, emergencyWriteByte, type ConsoleConfig,
} from './device/config.js';
export { queueCount, receiveqOf, transmitqOf, roleOf, CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, type QueueRole } from './device/queue-map.js';
export { makeBindQueue, type EventfdOps } from './device/bind-queue.js';
export type { PortQueueEngine, EngineHost } from './device/engine.js';
export { InlineEngine, type BindQueue } from './device/inline-engine.js';
export type { Logger } from './device/logger.js';
export type { VhostUserDeviceLike, StartedQueueLike } from './device/vhost-device.js';

export { Backlog, DEFAULT_BACKLOG_LIMIT } from './port/backlog.js';
export type { PortStats } from './port/port.js';
export type { QueueBinding, DeviceQueueLike, ChainLike } from './port/queue.js';
export { drainTransmitq, type TransmitBatch } from './port/transmit.js';
export { fillReceiveq, type ReceiveResult, type ByteSource } from './port/receive.js';

export { ConsoleWorkerPool, type ConsoleWorkerPoolOptions } from './worker/pool.js';
export { WorkerEngine } from './worker/worker-engine.js';

export {
  VtconDriver, VtconPort, type VtconDriverOptions, type VtconDriverEvents,
  VTCON_PORT_FLAG_GONE, VTCON_PORT_FLAG_CONSOLE, VTCON_PORT_FLAG_ALIAS, VTCON_FLAG_DETACHED, VTCON_FLAG_SIZE, VTCON_FLAG_MULTIPORT,
} from './driver/vtcon-driver.js';
export { SimulatedGuest, type SimulatedGuestOptions } from './driver/simulated-guest.js';
export { FrontendHandle, type FrontendLike, type FrontendHandleOptions } from './driver/frontend-handle.js';
export { Loopback, type LoopbackOptions, type LoopbackEventfds } from './driver/loopback.js';
export type { VirtioHandle, DriverQueueBinding } from './driver/virtio-handle.js';
export { serveDevice, connectGuest, type GuestOptions } from './driver/harness.js';

export * from './sink/index.js';
