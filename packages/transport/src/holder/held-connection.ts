/**
 * One front-end (QEMU) connection as the holder keeps it: the holder is the only reader and writer
 * of QEMU's socket; the engine serves the connection through a socketpair, one request at a time.
 *
 * Per request: the holder frames it (12-byte header, then `size` bytes; MessageFramer), sends it to
 * the engine with NEED_REPLY set (so every request has an answer that says it was handled), and
 * keeps it until the answer comes back. Requests are pipelined: the engine handles them in order
 * and answers in order, so answers are matched first in, first out. The answer goes on to QEMU if QEMU expects one (a body, or
 * an ack it asked for); a refused request QEMU did not ask an ack for ends the connection, as the
 * back-end itself does. A request the engine accepted goes into the ReplayLog.
 *
 * When the engine dies the requests in flight are kept; a new engine gets the ReplayLog first (its
 * answers swallowed), then those requests again, then whatever QEMU sent meanwhile. Nothing QEMU
 * sent is lost or answered twice, and QEMU never sees the switch.
 */
import { VhostUserConnection, safeClose } from '../socket/connection.js';
import type { FramedMessage } from '../protocol/framer.js';
import { encodeHeader, hasReplyBody, needsReply, describeRequest } from '../protocol/message-header.js';
import { VHOST_USER_HEADER_SIZE, VHOST_USER_NEED_REPLY_MASK } from '../protocol/codes.js';
import { VhostUserError } from '../errors.js';
import type { Logger } from '../protocol/device.js';
import { ReplayLog, type HeldRequest } from './replay-log.js';

/** QEMU requests waiting for the engine (QEMU sends one at a time, mostly; a bound all the same). */
const MAX_WAITING = 1024;
/**
 * fds those requests carry: room for a whole set-up sent without waiting (kick, call and err of
 * 256 queues, 8 regions) while no engine answers. Without it, 1024 requests of 16 fds each,
 * parked while the engine is down or slow, are 16k fds in the holder, whose fd limit is every
 * VM's: the next accept or engine link would fail for all of them.
 */
const MAX_WAITING_FDS = 1024;

interface InFlight { m: HeldRequest; flags: number; replay: boolean }

export class HeldConnection {
  readonly replay = new ReplayLog();
  private readonly qemu: VhostUserConnection;
  private engine: VhostUserConnection | null = null;
  /** Requests for the engine, in order: replay first after an engine change, then QEMU's. */
  private readonly waiting: InFlight[] = [];
  /** Sent to the engine, not answered yet, oldest first. */
  private readonly inFlight: InFlight[] = [];
  private ended = false;
  /** Requests QEMU sent (for stats). */
  requests = 0;

  constructor(
    readonly id: number,
    readonly vm: string,
    qemuFd: number,
    private readonly log: Logger,
    /** The connection ended (QEMU gone, or it broke the protocol): the holder lets go of it. */
    private readonly onEnd: (c: HeldConnection, err: VhostUserError | null) => void,
    /** The engine's end closed (it died, or it ended the session: its drop record says which). */
    private readonly onEngineClosed: (c: HeldConnection) => void = () => undefined,
  ) {
    this.qemu = new VhostUserConnection(qemuFd, 'request', {
      onMessage: (m) => this.fromQemu(m),
      onClose: (e) => this.end(e),
    });
  }

  get isEnded(): boolean { return this.ended; }
  get hasEngine(): boolean { return this.engine !== null; }

  /**
   * A (new) engine serves this connection through `pairFd` (the holder's end). Replays the kept
   * state, then the request that was in flight, then QEMU's waiting ones.
   */
  attachEngine(pairFd: number): void {
    if (this.ended) { safeClose(pairFd); return; }
    this.detachEngine();
    const replay = this.replay.requests().map((m) => ({ m, flags: m.bytes[4]! | (m.bytes[5]! << 8), replay: true }));
    const live = this.inFlight.splice(0).filter((w) => !w.replay);
    const qemuWaiting = this.waiting.filter((w) => !w.replay);
    this.waiting.length = 0;
    this.waiting.push(...replay, ...live, ...qemuWaiting);
    const engine = new VhostUserConnection(pairFd, 'reply', {
      onMessage: (m) => this.fromEngine(m),
      onClose: () => {
        if (this.engine !== engine) return; // replaced or detached by the holder
        this.engine = null;
        if (!this.ended) this.onEngineClosed(this);
      },
    });
    this.engine = engine;
    this.pump();
  }

  /** The engine went away (it died, or the holder replaces it): keep everything for the next one. */
  detachEngine(): void {
    const e = this.engine;
    this.engine = null;
    e?.close();
  }

  /** End this connection (QEMU's socket closed, state forgotten). */
  end(err: VhostUserError | null = null): void {
    if (this.ended) return;
    this.ended = true;
    this.qemu.close();
    this.detachEngine();
    for (const w of [...this.waiting.splice(0), ...this.inFlight.splice(0)]) if (!w.replay) closeFds(w.m);
    this.replay.clear();
    this.onEnd(this, err);
  }

  private fromQemu(fm: FramedMessage): void {
    this.requests++;
    const m: HeldRequest = { request: fm.header.request, bytes: concat(fm), fds: fm.fds };
    let requests = 0, fds = m.fds.length;
    for (const list of [this.waiting, this.inFlight]) for (const w of list) if (!w.replay) { requests++; fds += w.m.fds.length; }
    if (requests >= MAX_WAITING || fds > MAX_WAITING_FDS) {
      closeFds(m);
      this.end(new VhostUserError('SOCKET_ERROR', `front-end sent ${requests + 1} requests (${fds} fds) the engine has not answered yet (at most ${MAX_WAITING} and ${MAX_WAITING_FDS} fds)`));
      return;
    }
    this.waiting.push({ m, flags: fm.header.flags, replay: false });
    this.pump();
  }

  /** Send every waiting request to the engine. */
  private pump(): void {
    for (;;) {
      const engine = this.engine;
      if (!engine || engine.isClosed) return;
      const next = this.waiting.shift();
      if (!next) return;
      this.inFlight.push(next);
      const bytes = Uint8Array.from(next.m.bytes);
      new DataView(bytes.buffer).setUint32(4, next.flags | VHOST_USER_NEED_REPLY_MASK, true);
      try {
        engine.send(bytes, next.m.fds); // the kernel duplicates the fds; we keep ours
      } catch {
        return; // the engine's end is gone (onClose ran): in flight until the next engine
      }
    }
  }

  private fromEngine(fm: FramedMessage): void {
    const w = this.inFlight[0];
    if (!w || fm.header.request !== w.m.request) {
      for (const fd of fm.fds) safeClose(fd);
      this.log.error({ vm: this.vm, request: describeRequest('request', fm.header.request) }, 'engine answered a request the holder did not send; dropping its link for this VM');
      this.detachEngine();
      return;
    }
    this.inFlight.shift();
    const body = hasReplyBody(w.m.request);
    // A body means handled (GET_CONFIG's empty error form is never kept for a replay anyway).
    const ok = body || ackOf(fm.payload) === 0n;
    if (!w.replay) {
      if (body || needsReply(w.flags)) this.toQemu(fm);
      else if (!ok) {
        for (const fd of fm.fds) safeClose(fd);
        this.end(new VhostUserError('REPLY_FAILED', `${describeRequest('request', w.m.request)} refused by the engine`));
        return;
      }
    } else if (!ok) {
      this.log.warn({ vm: this.vm, request: describeRequest('request', w.m.request) }, 'engine refused a replayed request');
    }
    for (const fd of fm.fds) safeClose(fd);
    if (!w.replay) {
      if (ok) {
        try { this.replay.accepted(w.m); } catch (e) { this.end(e as VhostUserError); return; }
      } else closeFds(w.m);
    }
  }

  private toQemu(fm: FramedMessage): void {
    if (this.qemu.isClosed) return;
    try {
      this.qemu.send(concat(fm), fm.fds); // fds closed by the caller after this
    } catch {
      // send closed the connection: end() ran through onClose
    }
  }
}

function ackOf(payload: Uint8Array): bigint {
  return payload.length >= 8 ? new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0, true) : 1n;
}

function concat(fm: FramedMessage): Uint8Array {
  const out = new Uint8Array(VHOST_USER_HEADER_SIZE + fm.payload.length);
  encodeHeader(fm.header, out);
  out.set(fm.payload, VHOST_USER_HEADER_SIZE);
  return out;
}

function closeFds(m: HeldRequest): void {
  for (const fd of m.fds) if (fd >= 0) safeClose(fd);
  m.fds = [];
}
