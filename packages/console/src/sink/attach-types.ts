/** The attach server's public types: its options, the clients it reports, its counters. */
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
}

export type AttachDetachReason =
  | 'CLIENT_CLOSED' | 'SLOW_CONSUMER' | 'PROTOCOL_ERROR' | 'SERVER_CLOSED' | 'KICKED' | 'TOO_MANY_CLIENTS';

export interface AttachServerOptions {
  /** Socket path; a stale socket there is replaced, a live one is an error. */
  path: string;
  /** Receives the writer's input for the guest. Return false to pause reading until resumeInput(). */
  onInput(bytes: Uint8Array, client: AttachClientInfo): boolean | void;
  /** Receives the writer's resize requests (vtcon clients only). */
  onResize?(size: ResizeRequest, client: AttachClientInfo): void;
  /** Source of replay; without it replay requests get 0 bytes. */
  scrollback?: Scrollback;
  /** Lines replayed to raw clients on connect; default 0 (conserver keeps its own log). */
  rawReplayLines?: number;
  /** Per-client output limit in bytes; default 1 MiB. */
  clientQueueLimit?: number;
  /** Default 64; further connections are closed at once (counted). */
  maxClients?: number;
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
}
