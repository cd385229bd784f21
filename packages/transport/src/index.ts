/**
 * @vtcon/transport — vhost-user over Unix sockets, both roles, on a small syscall addon.
 * Public surface: the back-end (serves a VhostUserDevice), the front-end (simulated guests),
 * the device interface, the error type, and the wire codec for tools and tests.
 */
export { VhostUserBackend, type VhostUserBackendOptions } from './protocol/backend.js';
export {
  VhostUserFrontend, type FrontendOptions, type FrontendQueue, type FrontendRegion, type NegotiateOptions,
} from './protocol/frontend.js';
export { silentLogger, signalCall, type VhostUserDevice, type StartedQueue, type BackendChannel, type Logger } from './protocol/device.js';
export { VhostUserError, isVhostUserError, type VhostUserErrorReason, type VhostUserErrorScope } from './errors.js';
export * from './protocol/codes.js';
export {
  encodeMessage, decodeMessage, encodeHeader, decodeHeader, checkHeader, encodePayload, maxPayloadSize,
  type VhostUserMessage, type VhostUserHeader, type Payload, type Direction, type MemoryRegionDescription,
  type VringState, type VringAddr, type ConfigSpace, type InflightDescription, type DeviceStateDescription,
} from './protocol/message.js';
export { MessageFramer, type FramedMessage } from './protocol/framer.js';
export { VhostUserMemoryTable, type RegionMapper, type MemoryTableOptions } from './memory/memory-table.js';
export { checkEventfd, checkMemoryFd, checkSocketFd, type EventfdUse, type MemoryFdPolicy } from './socket/received-fd.js';
export { EchoDevice } from './protocol/echo-device.js';
export { EchoTransfer, type EchoResult } from './protocol/echo-harness.js';
export * as native from './native.js';
export { NativeError, type NativeErrorReason } from './errors-native.js';
export type { FdInfo, FdKind } from './native.js';
export { InflightQueue, inflightBufferSize, inflightQueueRegionSize, inflightHeads, type InflightRecovery } from './memory/inflight.js';
