/** The attach server's public types: its options, the clients it reports, its counters. */
import type { LogStream } from './log-stream.js';
import type { Scrollback } from './scrollback.js';
import type { AttachRole, ResizeRequest } from './attach-protocol.js';

export type AttachClientProtocol = 'raw' | 'vtcon';

export interface AttachClientInfo {
  id: number;
  /** The handshake's name, or `raw-<id>` for raw clients. */
  name: string;
  role: AttachRole;
  protocol: AttachClientProtocol;
  /** Date.now() when the client was classified (attached). */
  since: number;
  /** Output bytes handed to this client's socket (replay included). */
  bytesOut: number;
  /** Input bytes forwarded to the guest from this client. */
  bytesIn: number;
  /** Input bytes discarded because the client was a spectator. */
  inputDiscarded: number;
  /** Bytes queued for this client and not yet taken by the kernel. */
  queuedBytes: number;
  /** Log mode: the stream offset of the next byte this client gets (null: fed from memory). */
  offset: number | null;
  /** Log mode: bytes the port wrote that this client has not been sent yet. */
  lagBytes: number;
  /** Log mode: bytes rotated away before this client read them (each gap shown by a marker). */
  skippedBytes: number;
}

export type AttachDetachReason =
  | 'CLIENT_CLOSED' | 'SLOW_CONSUMER' | 'PROTOCOL_ERROR' | 'SERVER_CLOSED' | 'KICKED' | 'TOO_MANY_CLIENTS' | 'LOG_READ_FAILED';

export interface AttachServerOptions {
  /** Socket path; a stale socket there is replaced, a live one is an error. */
  path: string;
  /** Receives the writer's input for the guest. Return false to pause reading until resumeInput(). */
  onInput(bytes: Uint8Array, client: AttachClientInfo): boolean | void;
  /** Receives the writer's resize requests (vtcon clients only). */
  onResize?(size: ResizeRequest, client: AttachClientInfo): void;
  /** Source of replay when there is no `log`; without either, replay requests get 0 bytes. */
  scrollback?: Scrollback;
  /**
   * The port's raw log (timestamps off) as a stream: when set, every client follows it with its
   * own offset (attach-feed.ts) and replay comes from it; nothing is queued in memory and no
   * client is disconnected for being slow. Without it, the in-memory path below applies.
   */
  log?: LogStream;
  /** Log mode: each client's read buffer, its whole share of daemon memory; default 64 KiB. */
  readBufferBytes?: number;
  /** Log mode: how far back replay looks for its lines; default 1 MiB. */
  replayMaxBytes?: number;
  /** Lines replayed to raw clients on connect; default 0 (conserver keeps its own log). */
  rawReplayLines?: number;
  /** Without a log: per-client output limit in bytes; default 1 MiB. */
  clientQueueLimit?: number;
  /** Default 64; further connections are closed at once (counted). */
  maxClients?: number;
  /** A budget shared with the daemon's other client sockets; a client it refuses is closed at once (counted in tooManyClients). */
  slots?: { take(fds: number): boolean; give(fds: number): void };
  /** How long a silent new client may stay unclassified; default 200 ms. */
  handshakeGraceMs?: number;
}

export interface AttachStats {
  clientsNow: number;
  clientsTotal: number;
  /** Output bytes handed to client sockets, summed over clients. */
  bytesOut: number;
  /** Input bytes forwarded to onInput. */
  bytesIn: number;
  spectatorBytesDiscarded: number;
  slowConsumerDisconnects: number;
  protocolErrors: number;
  tooManyClients: number;
  /** Log mode: bytes rotated away before some client read them, summed over clients. */
  bytesSkipped: number;
}
