/**
 * The holder ↔ engine link: one SOCK_SEQPACKET socket, one JSON record per packet, the record's
 * fds attached to it (SCM_RIGHTS). A seqpacket record arrives whole or not at all, so an engine
 * killed in the middle of a send leaves the holder nothing half-read to guess about.
 *
 * Thread contract: main thread. Ownership: the link owns its socket fd; fds received are handed to
 * `onRecord` with the record (the receiver owns them); fds passed to `send` stay the caller's.
 * Backpressure: records the socket does not take now wait in a bounded queue (the link carries
 * control traffic only: a connection per VM, state blobs). A state blob replaces the one of the
 * same VM still queued (sendLatest): a guest changing state faster than the holder reads costs
 * one queued record per VM, never a full queue that would end the link every VM shares.
 */
import * as native from '../native.js';
import { safeClose } from '../socket/connection.js';
import { VhostUserError } from '../errors.js';

/** Records are small (a state blob of 511 ports is ~40 KiB); bigger is a bug or a hostile peer. */
export const MAX_LINK_RECORD = 256 * 1024;
const MAX_LINK_FDS = 16;
const MAX_QUEUED_RECORDS = 4096;
const recvBuf = new Uint8Array(MAX_LINK_RECORD + 1);

export interface LinkRecord { op: string; [key: string]: unknown }

interface Queued { bytes: Uint8Array; fds: number[]; key?: string }

export interface LinkHandlers {
  onRecord(r: LinkRecord, fds: number[]): void;
  /** Called once: null after close(), else why the link ended (peer gone, bad record). */
  onClose(err: VhostUserError | null): void;
}

export class HolderLink {
  private watch: native.FdWatch | null = null;
  private readonly queue: Queued[] = [];
  private closed = false;

  constructor(readonly fd: number, private readonly handlers: LinkHandlers) {
    this.rewatch();
  }

  get isClosed(): boolean { return this.closed; }
  /** Records waiting for the socket to take them. */
  get queuedRecords(): number { return this.queue.length; }

  /**
   * Sends one record with `transferFds` attached: the link owns them from here and closes them
   * once the kernel has its copies (or the link is closed), so a record queued behind a full
   * socket still has its fds when it goes out.
   */
  send(r: LinkRecord, transferFds: readonly number[] = []): void {
    this.enqueue(r, transferFds, undefined);
  }

  /**
   * Sends `r`, which makes any record queued earlier with the same `key` pointless (the newest
   * state of one VM): that one is dropped and `r` goes at the end, after whatever was queued
   * between them, so nothing sent later is overtaken. Takes no fds.
   */
  sendLatest(key: string, r: LinkRecord): void {
    if (this.queue.length > 0) {
      const i = this.queue.findIndex((q) => q.key === key);
      // Any queued record may go, the head too: a seqpacket record is sent whole or not at all.
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.enqueue(r, [], key);
  }

  private enqueue(r: LinkRecord, transferFds: readonly number[], key: string | undefined): void {
    if (this.closed) {
      for (const fd of transferFds) safeClose(fd);
      throw new VhostUserError('NOT_CONNECTED', `holder link closed (record ${r.op} not sent)`);
    }
    const bytes = Buffer.from(JSON.stringify(r));
    if (bytes.length > MAX_LINK_RECORD) {
      for (const fd of transferFds) safeClose(fd);
      throw new VhostUserError('LINK_RECORD_INVALID', `holder link record ${r.op} is ${bytes.length} bytes (max ${MAX_LINK_RECORD})`);
    }
    const rec: Queued = { bytes, fds: [...transferFds], ...(key !== undefined ? { key } : {}) };
    if (this.queue.length === 0 && this.trySend(rec)) return;
    if (this.queue.length >= MAX_QUEUED_RECORDS) {
      for (const fd of rec.fds) safeClose(fd);
      this.close(new VhostUserError('SOCKET_ERROR', `holder link peer is not reading: ${this.queue.length} records queued`));
      return;
    }
    this.queue.push(rec);
    this.rewatch();
  }

  close(err: VhostUserError | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    this.watch = null;
    for (const q of this.queue.splice(0)) for (const fd of q.fds) safeClose(fd);
    safeClose(this.fd);
    this.handlers.onClose(err);
  }

  /** true when done with (sent, or the link closed on an error); false on EAGAIN. */
  private trySend(rec: Queued): boolean {
    try {
      native.sendMsg(this.fd, rec.bytes, rec.fds.length > 0 ? rec.fds : undefined);
    } catch (e) {
      if ((e as { code?: string }).code === 'EAGAIN') return false;
      for (const fd of rec.fds) safeClose(fd);
      this.close(new VhostUserError('SOCKET_ERROR', `holder link sendmsg: ${(e as Error).message}`, { cause: e }));
      return true;
    }
    for (const fd of rec.fds) safeClose(fd);
    return true;
  }

  private rewatch(): void {
    if (this.closed) return;
    this.watch?.stop();
    this.watch = native.watchFd(this.fd, this.queue.length > 0 ? 'both' : 'readable', (readable, writable) => {
      if (writable) this.drain();
      if (readable) this.receive();
    }, (e) => this.close(new VhostUserError('SOCKET_ERROR', `holder link handler: ${(e as Error)?.message ?? String(e)}`, { cause: e })));
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      if (!this.trySend(head)) return;
      this.queue.shift();
    }
    this.rewatch();
  }

  private receive(): void {
    for (let i = 0; i < 64 && !this.closed; i++) {
      let r: native.RecvMsgResult | null;
      try {
        r = native.recvMsg(this.fd, recvBuf, MAX_LINK_FDS);
      } catch (e) {
        this.close(new VhostUserError('PEER_CLOSED', `holder link recvmsg: ${(e as Error).message}`, { cause: e }));
        return;
      }
      if (r === null) return;
      if (r.bytes === 0 && r.fds.length === 0) { this.close(new VhostUserError('PEER_CLOSED', 'holder link closed by the peer')); return; }
      let rec: LinkRecord | null = null;
      if (r.bytes <= MAX_LINK_RECORD && !r.ctrunc) {
        try {
          const v: unknown = JSON.parse(Buffer.from(recvBuf.buffer, 0, r.bytes).toString('utf8'));
          if (typeof v === 'object' && v !== null && typeof (v as { op?: unknown }).op === 'string') rec = v as LinkRecord;
        } catch { /* below */ }
      }
      if (rec === null) {
        for (const fd of r.fds) safeClose(fd);
        this.close(new VhostUserError('LINK_RECORD_INVALID', `holder link: bad record (${r.bytes} bytes${r.ctrunc ? ', fds truncated' : ''})`));
        return;
      }
      this.handlers.onRecord(rec, r.fds);
    }
  }
}
