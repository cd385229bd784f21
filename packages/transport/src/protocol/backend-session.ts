/**
 * One front-end connection of VhostUserBackend: reads requests in order, has each decoded and
 * checked (header, size, fds: decodeMessage), hands it to `dispatch`, which calls the one
 * handler for that request (backend-<family>.ts; rust-vmm's backend_req_handler does the same),
 * and sends the reply.
 *
 * Thread contract: main thread. Requests are handled strictly one after another (a promise
 * chain), because stopping a queue may be asynchronous (a worker must let go of the ring first).
 *
 * Reply rules (vhost-user.rst "Communication", "REPLY_ACK"):
 * - a request with a reply body (GET_*) gets it; if it fails, GET_CONFIG answers with an empty
 *   payload (the spec's error form) and other GET_* close the connection (the peer would wait).
 * - any other request with NEED_REPLY gets a u64: 0 on success, 1 on failure.
 * - a failing request without NEED_REPLY closes the connection: the front-end has no other
 *   way to learn that its state was not applied.
 */
import { VhostUserConnection, safeClose } from '../socket/connection.js';
import type { FramedMessage } from './framer.js';
import { decodeMessage, encodeMessage, type VhostUserMessage } from './message.js';
import { describeRequest, hasReplyBody, needsReply, REPLY_FLAGS } from './message-header.js';
import type { Payload, PayloadKind } from './message-payload.js';
import { FrontendRequest } from './codes.js';
import { VhostUserError, isVhostUserError } from '../errors.js';
import type { Logger, VhostUserDevice } from './device.js';
import { SessionState, err, type Reply, type SessionOptions } from './backend-state.js';
import { getFeatures, getProtocolFeatures, setFeatures, setProtocolFeatures } from './backend-features.js';
import { getStatus, resetDevice, resetOwner, setOwner, setStatus } from './backend-status.js';
import { addMemReg, getMaxMemSlots, remMemReg, setMemTable } from './backend-memory.js';
import {
  closeVringFds, getQueueNum, getVringBase, setVringAddr, setVringBase, setVringEnable, setVringFile, setVringNum, stop,
} from './backend-vring.js';
import { getConfig, setConfig } from './backend-config.js';
import { setBackendReqFd } from './backend-channel.js';
import { getInflightFd, releaseInflight, setInflightFd } from './backend-inflight.js';

/** The payload of `m`, which must be of `kind` (decodeMessage's layout table guarantees it; checked anyway). */
function payloadOf<K extends PayloadKind>(m: VhostUserMessage, kind: K): Extract<Payload, { kind: K }> {
  if (m.payload.kind !== kind) throw err('PAYLOAD_KIND_MISMATCH', `${describeRequest('request', m.request)}: unexpected payload kind ${m.payload.kind}`);
  return m.payload as Extract<Payload, { kind: K }>;
}

/** One front-end connection: protocol state + the device instance serving it. */
export class BackendSession {
  readonly conn: VhostUserConnection;
  private readonly s: SessionState;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  private ending = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Requests handled (for tests and logs). */
  handled = 0;

  constructor(fd: number, device: VhostUserDevice, log: Logger, o: SessionOptions) {
    this.log = log;
    this.s = new SessionState(device, log, o);
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.conn = new VhostUserConnection(fd, 'request', {
      onMessage: (m) => { this.enqueue(() => this.handle(m), 'request'); },
      onClose: (e) => { this.enqueue(() => this.teardown(e), 'teardown'); },
    });
  }

  /**
   * Run `step` after every earlier one. Nothing escapes the chain: a step that throws anyway
   * (a bug, or a device throwing where it must not) is logged and ends the connection, whose
   * teardown is queued behind it — never an unhandled rejection.
   */
  private enqueue(step: () => Promise<void>, what: string): void {
    this.chain = this.chain.then(step).catch((e: unknown) => {
      this.log.error({ reason: isVhostUserError(e) ? e.reason : 'DEVICE_FAILED', err: (e as Error)?.message ?? String(e), step: what }, 'vhost-user session step failed');
      if (what === 'teardown') { this.ending = true; this.resolveDone(); return; }
      this.conn.close(isVhostUserError(e) ? e : new VhostUserError('DEVICE_FAILED', String((e as Error)?.message ?? e), { cause: e }));
    });
  }

  private async handle(fm: FramedMessage): Promise<void> {
    if (this.conn.isClosed) { for (const fd of fm.fds) safeClose(fd); return; }
    const { request, flags } = fm.header;
    const name = describeRequest('request', request);
    let msg: VhostUserMessage | null = null;
    try {
      msg = decodeMessage(fm.header, fm.payload, fm.fds, 'request');
      this.handled++;
      this.log.debug({ request: name, flags, size: fm.header.size, fds: fm.fds.length }, 'vhost-user request');
      const reply = await this.dispatch(msg);
      if (reply !== undefined) this.reply(request, reply, reply.fds);
      else if (needsReply(flags)) this.reply(request, { kind: 'u64', value: 0n });
    } catch (e) {
      // Whatever fds the failed request carried and nobody took are closed (ownership rule:
      // handlers take fds only on success).
      for (const fd of fm.fds) if (fd >= 0) safeClose(fd);
      const ve = isVhostUserError(e) ? e : new VhostUserError('DEVICE_FAILED', `${name}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      this.log.error({ request: name, reason: ve.reason, err: ve.message }, 'vhost-user request failed');
      if (request === FrontendRequest.GET_CONFIG && fm.header.size >= 12 && !this.conn.isClosed) {
        this.reply(request, { kind: 'raw', bytes: new Uint8Array(0) });
      } else if (needsReply(flags) && !hasReplyBody(request) && !this.conn.isClosed) {
        this.reply(request, { kind: 'u64', value: 1n });
      } else {
        this.conn.close(ve);
      }
    }
  }

  /**
   * Never throws: a reply the socket refuses (the peer shut down its read side, or reset) ends
   * this connection — `send` closes it, and its teardown runs next on the chain.
   */
  private reply(request: number, payload: Payload & { fds?: number[] }, fds: number[] = []): void {
    if (this.conn.isClosed) return;
    try {
      this.conn.send(encodeMessage({ request, flags: REPLY_FLAGS, payload }), fds);
    } catch (e) {
      const ve = isVhostUserError(e) ? e : new VhostUserError('SOCKET_ERROR', String((e as Error)?.message ?? e), { cause: e });
      this.log.warn({ request: describeRequest('request', request), reason: ve.reason, err: ve.message }, 'vhost-user reply not sent; closing the connection');
      this.conn.close(ve);
    }
  }

  /** One handler per request; returns a reply payload for requests with a reply body, undefined otherwise. */
  private async dispatch(m: VhostUserMessage): Promise<Reply> {
    const s = this.s;
    const R = FrontendRequest;
    switch (m.request) {
      case R.GET_FEATURES: return getFeatures(s);
      case R.SET_FEATURES: return setFeatures(s, (m.payload as { value: bigint }).value);
      case R.GET_PROTOCOL_FEATURES: return getProtocolFeatures(s);
      case R.SET_PROTOCOL_FEATURES: return setProtocolFeatures(s, (m.payload as { value: bigint }).value);
      case R.SET_OWNER: return setOwner();
      case R.RESET_OWNER: return resetOwner(s);
      case R.RESET_DEVICE: return resetDevice(s);
      case R.SET_MEM_TABLE: return setMemTable(s, m, payloadOf(m, 'memTable').regions);
      case R.GET_MAX_MEM_SLOTS: return getMaxMemSlots(s);
      case R.ADD_MEM_REG: return addMemReg(s, m, payloadOf(m, 'memRegion').region);
      case R.REM_MEM_REG: return remMemReg(s, m, payloadOf(m, 'memRegion').region);
      case R.SET_VRING_NUM: return setVringNum(s, m, payloadOf(m, 'vringState').state);
      case R.SET_VRING_ADDR: return setVringAddr(s, m, payloadOf(m, 'vringAddr').addr);
      case R.SET_VRING_BASE: return setVringBase(s, m, payloadOf(m, 'vringState').state);
      case R.GET_VRING_BASE: return getVringBase(s, m, payloadOf(m, 'vringState').state);
      case R.SET_VRING_KICK:
      case R.SET_VRING_CALL:
      case R.SET_VRING_ERR: return setVringFile(s, m, payloadOf(m, 'u64').value);
      case R.SET_VRING_ENABLE: return setVringEnable(s, m, payloadOf(m, 'vringState').state);
      case R.GET_QUEUE_NUM: return getQueueNum(s);
      case R.GET_CONFIG: return getConfig(s, payloadOf(m, 'config').config);
      case R.SET_CONFIG: return setConfig(s, payloadOf(m, 'config').config);
      case R.SET_BACKEND_REQ_FD: return setBackendReqFd(s, m);
      case R.GET_INFLIGHT_FD: return getInflightFd(s, payloadOf(m, 'inflight').inflight);
      case R.SET_INFLIGHT_FD: return setInflightFd(s, m, payloadOf(m, 'inflight').inflight);
      case R.SET_STATUS: return setStatus(s, (m.payload as { value: bigint }).value);
      case R.GET_STATUS: return getStatus(s);
      default:
        throw err('UNSUPPORTED_REQUEST', `${describeRequest('request', m.request)} is not supported by this back-end`);
    }
  }

  private async teardown(e: VhostUserError | null): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    const s = this.s;
    if (e && e.reason !== 'PEER_CLOSED') this.log.error({ reason: e.reason, err: e.message }, 'vhost-user connection closed on error');
    else this.log.info({ requests: this.handled }, 'vhost-user front-end disconnected');
    for (let i = 0; i < s.vrings.length; i++) {
      try { await stop(s, i); } catch (se) { this.log.warn({ queue: i, err: (se as Error).message }, 'stopQueue failed during disconnect'); }
    }
    for (const v of s.vrings) closeVringFds(v);
    s.backendReq?.close();
    s.backendReq = null;
    releaseInflight(s);
    s.memTable.release();
    try { s.device.disconnected(); } catch (de) { this.log.warn({ err: (de as Error).message }, 'device.disconnected threw'); }
    this.resolveDone();
  }
}
