/**
 * VhostUserConnection: one connected Unix stream socket, owned through the addon (recvmsg /
 * sendmsg with SCM_RIGHTS, uv_poll readiness). No net.Socket: libuv's own reads would consume
 * the bytes and let the kernel drop the fds that came with them.
 *
 * Thread contract: the thread that created it (main thread); callbacks run on that loop.
 * Ownership: the connection owns `fd`; fds received are handed to `onMessage` with the message
 * (the receiver owns them from then on); fds it still holds at close (partial message, after a
 * framing error) are closed by `close()`. fds passed to `send` stay owned by the caller (the
 * kernel duplicates them into the peer).
 *
 * Backpressure: `send` never blocks; bytes the socket does not take now wait in a write queue
 * drained on writability. `queuedBytes` tells a caller how far behind the peer is;
 * `maxQueuedBytes` bounds it: a peer that stops reading is disconnected (SOCKET_ERROR, "peer is
 * not reading") instead of growing our memory without bound. Each queued message counts
 * MESSAGE_COST more than its bytes: a peer asking for 20-byte replies it never reads would
 * otherwise queue 800,000 of them (some 200 MB of objects) before 16 MiB of bytes.
 */
import * as native from '../native.js';
import { MessageFramer, type FramedMessage } from '../protocol/framer.js';
import type { Direction } from '../protocol/message-layout.js';
import { VhostUserError } from '../errors.js';

export interface ConnectionHandlers {
  onMessage(m: FramedMessage): void;
  /** Called once; err null for a local close(), PEER_CLOSED for EOF between messages. */
  onClose(err: VhostUserError | null): void;
}

const RECV_BUF = 64 * 1024;
/**
 * One receive buffer per thread, shared by every connection: recvmsg fills it and the framer copies
 * the bytes out in the same synchronous turn, so no connection's data outlives the call. A buffer
 * per connection cost 64 KiB per idle VM (two connections each with BACKEND_REQ).
 */
const recvBuf = new Uint8Array(RECV_BUF);
/** Each recvmsg may carry at most this many fds; SET_MEM_TABLE needs 8. More is MSG_CTRUNC. */
const MAX_FDS_PER_RECV = 16;
/** Bound the work per readiness callback so one chatty peer cannot starve the loop. */
const MAX_RECVS_PER_WAKEUP = 64;
/** What a queued message costs in JS objects (its entry, the view, the buffer) beyond its bytes. */
const MESSAGE_COST = 512;

interface Pending { bytes: Uint8Array; fds: number[] }

export class VhostUserConnection {
  readonly fd: number;
  private readonly framer: MessageFramer;
  private readonly handlers: ConnectionHandlers;
  private watch: { stop(): void } | null = null;
  private watchingWritable = false;
  private readonly queue: Pending[] = [];
  private queued = 0;
  private closed = false;
  readonly maxQueuedBytes: number;

  constructor(fd: number, direction: Direction, handlers: ConnectionHandlers, opts: { maxQueuedBytes?: number } = {}) {
    this.fd = fd;
    this.framer = new MessageFramer(direction);
    this.handlers = handlers;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 16 * 1024 * 1024;
    try {
      this.rewatch();
    } catch (e) {
      // Not pollable (e.g. a regular file passed as a socket): we own fd, so close it here.
      this.closed = true;
      safeClose(fd);
      throw new VhostUserError('SOCKET_ERROR', `cannot poll fd: ${(e as Error).message}`, { cause: e, scope: 'none' });
    }
  }

  get isClosed(): boolean { return this.closed; }
  get queuedBytes(): number { return this.queued; }

  /**
   * Queue one message (header+payload in one buffer, so its fds ride on its first byte). Throws
   * NOT_CONNECTED after close, and SOCKET_ERROR when the socket refuses the bytes (the peer shut
   * down its read side or reset): the connection is closed first (onClose runs), so a caller
   * that catches has nothing left to clean up.
   */
  send(bytes: Uint8Array, fds: number[] = []): void {
    if (this.closed) throw new VhostUserError('NOT_CONNECTED', 'send on a closed connection');
    if (this.queue.length === 0) {
      let rest: Pending | null;
      try {
        rest = this.trySend(bytes, fds);
      } catch (e) {
        this.close(e as VhostUserError);
        throw e;
      }
      if (rest === null) return;
      this.enqueue(rest);
    } else {
      this.enqueue({ bytes, fds });
    }
    if (this.queued + this.queue.length * MESSAGE_COST > this.maxQueuedBytes) {
      this.close(new VhostUserError('SOCKET_ERROR', `peer is not reading: ${this.queue.length} messages (${this.queued} bytes) queued`));
      return;
    }
    if (!this.watchingWritable) { this.watchingWritable = true; this.rewatch(); }
  }

  /** Close now: stop polling, close the socket and every fd still held. Idempotent. */
  close(err: VhostUserError | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    this.watch = null;
    for (const fd of this.framer.takeHeldFds()) safeClose(fd);
    this.queue.length = 0; this.queued = 0;
    safeClose(this.fd);
    this.handlers.onClose(err);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.queued += p.bytes.byteLength;
  }

  /** Returns the unsent remainder, or null when all of it went out. */
  private trySend(bytes: Uint8Array, fds: number[]): Pending | null {
    try {
      const n = native.sendMsg(this.fd, bytes, fds.length > 0 ? fds : undefined);
      if (n >= bytes.byteLength) return null;
      // fds went with the first byte; the remainder carries none.
      return { bytes: bytes.subarray(n), fds: [] };
    } catch (e) {
      if ((e as { code?: string }).code === 'EAGAIN') return { bytes, fds };
      throw new VhostUserError('SOCKET_ERROR', `sendmsg failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private rewatch(): void {
    this.watch?.stop();
    this.watch = native.watchFd(this.fd, this.watchingWritable ? 'both' : 'readable', (readable, writable) => {
      if (this.closed) return;
      try {
        if (writable) this.onWritable();
        if (readable && !this.closed) this.onReadable();
      } catch (e) {
        this.close(e instanceof VhostUserError ? e : new VhostUserError('SOCKET_ERROR', String((e as Error).message ?? e), { cause: e }));
      }
    });
  }

  private onWritable(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const rest = this.trySend(head.bytes, head.fds);
      const sent = head.bytes.byteLength - (rest?.bytes.byteLength ?? 0);
      this.queued -= sent;
      if (rest !== null) { this.queue[0] = rest; return; }
      this.queue.shift();
    }
    if (this.watchingWritable) { this.watchingWritable = false; this.rewatch(); }
  }

  private onReadable(): void {
    for (let i = 0; i < MAX_RECVS_PER_WAKEUP && !this.closed; i++) {
      let r: { bytes: number; fds: number[]; ctrunc: boolean } | null;
      try {
        r = native.recvMsg(this.fd, recvBuf, MAX_FDS_PER_RECV);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'ECONNRESET') { this.close(new VhostUserError('PEER_CLOSED', 'connection reset by peer', { cause: e })); return; }
        throw new VhostUserError('SOCKET_ERROR', `recvmsg failed: ${(e as Error).message}`, { cause: e });
      }
      if (r === null) return; // EAGAIN: drained
      if (r.ctrunc) {
        for (const fd of r.fds) safeClose(fd);
        throw new VhostUserError('FDS_TRUNCATED', `more than ${MAX_FDS_PER_RECV} fds in one message: the kernel dropped some`);
      }
      if (r.bytes === 0) {
        for (const fd of r.fds) safeClose(fd);
        this.close(this.framer.eofError() ?? new VhostUserError('PEER_CLOSED', 'peer closed the connection'));
        return;
      }
      const res = this.framer.push(recvBuf.subarray(0, r.bytes), r.fds); // the framer copies
      for (const m of res.messages) {
        if (this.closed) { for (const fd of m.fds) safeClose(fd); continue; }
        this.handlers.onMessage(m);
      }
      if (res.error) throw res.error;
    }
  }
}

export function safeClose(fd: number): void {
  try { native.close(fd); } catch { /* EBADF: already gone */ }
}
