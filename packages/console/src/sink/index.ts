/**
 * Port sinks: where guest→host bytes go once a port has copied them off its transmitq.
 * The package root (src/index.ts) re-exports this module.
 */
export type { PortSink } from './sink.js';
export { SinkSet } from './sink.js';
export { Scrollback } from './scrollback.js';
export type { ScrollbackOptions, ScrollbackRead, ScrollbackStats } from './scrollback.js';
export { LogFileSink } from './log-file.js';
export type { LogFileOptions, LogFileStats } from './log-file.js';
export { AppendLog } from './append-log.js';
export type { AppendLogStats, PortLogOptions } from './append-log.js';
export { followLogFile, logFilePaths, readLogFiles } from './log-reader.js';
export type { FollowOptions } from './log-reader.js';
export { LogStream } from './log-stream.js';
export type { LogSpan } from './log-stream.js';
export { LogStreamReader, lastLinesStart } from './log-stream-reader.js';
export type { LogRead } from './log-stream-reader.js';
export { skippedMarker } from './attach-feed.js';
export { AttachServer } from './attach.js';
export type {
  AttachClientInfo, AttachClientProtocol, AttachDetachReason, AttachServerOptions, AttachStats,
} from './attach.js';
export {
  ATTACH_ERR, ATTACH_HELLO, ATTACH_OK, ATTACH_PROTOCOL_VERSION, FRAME_DATA, FRAME_RESIZE, FrameDecoder,
  MAX_FRAME_PAYLOAD, MAX_HANDSHAKE_LINE, encodeAttachError, encodeAttachReply, encodeAttachRequest,
  encodeDataFrames, encodeFrame, encodeResizeFrame, parseAttachReply, parseAttachRequest,
} from './attach-protocol.js';
export type {
  AttachErrorReply, AttachFrame, AttachReply, AttachRequest, AttachRequestRole, AttachRole, ResizeRequest,
} from './attach-protocol.js';
export { ClientSlots, CLIENT_FD_SHARE, softFdLimit } from './client-slots.js';
export { connectAttach } from './attach-client.js';
export type { AttachConnection } from './attach-client.js';
