/**
 * @vtcon/transport — vhost-user over Unix sockets, both roles, on a small syscall addon.
 * Public surface: the back-end (serves a VhostUserDevice), the front-end (simulated guests),
 * the device interface, the error types, and the wire codec for tools and tests.
 * The syscall layer is `@vtcon/transport/native` (internal: for the sibling packages, not a
 * stable API); echo fixtures are in `@vtcon/transport/testing`.
 */
export { VhostUserBackend, type VhostUserBackendOptions } from './protocol/backend.js';
export {
  VhostUserFrontend, type FrontendOptions, type FrontendQueue, type FrontendRegion, type NegotiateOptions,
} from './protocol/frontend.js';
export { silentLogger, signalCall, type VhostUserDevice, type StartedQueue, type BackendChannel, type Logger } from './protocol/device.js';
export { VhostUserError, isVhostUserError, type VhostUserErrorReason, type VhostUserErrorScope } from './errors.js';
export * from './protocol/codes.js';
export { encodeMessage, decodeMessage, type VhostUserMessage } from './protocol/message.js';
export { encodeHeader, decodeHeader, checkHeader, type VhostUserHeader } from './protocol/message-header.js';
export { encodePayload, type Payload, type DeviceStateDescription } from './protocol/message-payload.js';
export { maxPayloadSize, type Direction } from './protocol/message-layout.js';
export { type VringState, type VringAddr } from './protocol/message-vring.js';
export { type MemoryRegionDescription, type InflightDescription } from './protocol/message-memory.js';
export { type ConfigSpace } from './protocol/message-config.js';
export { MessageFramer, type FramedMessage } from './protocol/framer.js';
export { VhostUserMemoryTable, type RegionMapper, type MemoryTableOptions } from './memory/memory-table.js';
export { NativeError, type NativeErrorReason } from './errors-native.js';
export { InflightQueue, inflightBufferSize, inflightQueueRegionSize, inflightHeads, type InflightRecovery } from './memory/inflight.js';
export { Holder, type HolderOptions, type HolderStatus, type EngineProcess } from './holder/holder.js';
export { EngineLink, HOLDER_FD_ENV, type EngineLinkHandlers, type HeldConnectionInfo } from './holder/engine-link.js';
