/**
 * Driver side of the echo transfer (tests, benchmark): pushes `totalBytes` of deterministic data
 * through transmitq (queue 1) in `chunk`-byte chains and checks what comes back on receiveq
 * (queue 0), hashing both streams. Survives reconnects: `attach` a new front-end (same memory
 * and rings) and the transfer resumes.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as native from '../native.js';
import type { VhostUserFrontend } from './frontend.js';

const RX = 0;
const TX = 1;

export interface EchoResult { sentBytes: number; receivedBytes: number; sentSha256: string; receivedSha256: string; chains: number }

export class EchoTransfer {
  private readonly total: number;
  private readonly chunk: number;
  private readonly pattern: Buffer;
  private readonly sentHash = createHash('sha256');
  private readonly recvHash = createHash('sha256');
  private sent = 0;
  private received = 0;
  private chains = 0;
  private fe: VhostUserFrontend | null = null;
  private watches: { stop(): void }[] = [];
  private txFree: number[] = [];
  private rxBufs: number[] = [];
  private resolve!: (r: EchoResult) => void;
  readonly done: Promise<EchoResult>;
  /** Called after each received chain (tests use it to disconnect mid-transfer). */
  onProgress: ((receivedBytes: number) => void) | null = null;

  constructor(opts: { totalBytes: number; chunk?: number; buffers?: number }) {
    this.total = opts.totalBytes;
    this.chunk = opts.chunk ?? 4096;
    this.pattern = randomBytes(1 << 20);
    this.done = new Promise((r) => { this.resolve = r; });
    this.buffers = opts.buffers ?? 32;
  }
  private readonly buffers: number;
  private finished = false;

  /** First attach allocates guest buffers and posts them; later attaches just resume. */
  attach(fe: VhostUserFrontend): void {
    this.fe = fe;
    const first = this.txFree.length === 0 && this.rxBufs.length === 0;
    if (first) {
      for (let i = 0; i < this.buffers; i++) this.txFree.push(fe.alloc(this.chunk));
      for (let i = 0; i < this.buffers; i++) {
        const a = fe.alloc(this.chunk);
        this.rxBufs.push(a);
        fe.queues.get(RX)!.driver.addChain([], [{ addr: a, len: this.chunk }], a);
      }
    }
    for (const qi of [RX, TX]) {
      const q = fe.queues.get(qi)!;
      this.watches.push(native.watchFd(q.callFd, 'readable', () => { native.eventfdRead(q.callFd); this.service(); }));
    }
    // Kick both queues: the (new) back-end may have missed notifications while we were away.
    for (const qi of [RX, TX]) { fe.queues.get(qi)!.driver.kickPrepare(); fe.kick(qi); }
    // Used entries may have been published while we were detached (no call is coming for them).
    this.service();
  }

  detach(): void {
    for (const w of this.watches.splice(0)) w.stop();
    this.fe = null;
  }

  get receivedBytes(): number { return this.received; }

  private refill(): void {
    const fe = this.fe;
    if (!fe) return;
    const tx = fe.queues.get(TX)!.driver;
    let added = false;
    while (this.sent < this.total && this.txFree.length > 0) {
      const addr = this.txFree.pop()!;
      const len = Math.min(this.chunk, this.total - this.sent);
      const buf = fe.memory!.view(addr, len);
      const off = (this.sent / this.chunk * 4099) % (this.pattern.byteLength - this.chunk);
      buf.set(this.pattern.subarray(off, off + len));
      new DataView(buf.buffer, buf.byteOffset, len).setUint32(0, this.sent / this.chunk, true); // sequence number
      this.sentHash.update(buf);
      if (tx.addChain([{ addr, len }], [], addr) === null) { this.txFree.push(addr); break; }
      this.sent += len;
      added = true;
    }
    if (added && tx.kickPrepare()) fe.kick(TX);
  }

  private service(): void {
    const fe = this.fe;
    if (!fe || this.finished) return;
    const rx = fe.queues.get(RX)!.driver;
    const tx = fe.queues.get(TX)!.driver;
    for (let u = tx.getUsed(); u !== null; u = tx.getUsed()) this.txFree.push(u.token as number);
    let reposted = false;
    for (let u = rx.getUsed(); u !== null; u = rx.getUsed()) {
      const addr = u.token as number;
      this.recvHash.update(fe.memory!.view(addr, u.len));
      this.received += u.len;
      this.chains++;
      rx.addChain([], [{ addr, len: this.chunk }], addr);
      reposted = true;
    }
    if (reposted && rx.kickPrepare()) fe.kick(RX);
    if (this.received >= this.total) {
      this.finished = true;
      this.detach();
      this.resolve({ sentBytes: this.sent, receivedBytes: this.received, sentSha256: this.sentHash.digest('hex'), receivedSha256: this.recvHash.digest('hex'), chains: this.chains });
      return;
    }
    this.refill();
    this.onProgress?.(this.received);
  }
}
