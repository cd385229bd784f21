/**
 * Streaming framer: bytes + fds in (as recvmsg returns them), whole messages out. No I/O.
 *
 * fd association: on a Unix stream socket the kernel attaches SCM_RIGHTS fds to the first byte
 * of the sendmsg that carried them, and recvmsg stops right after the skb that carries fds. A
 * sender that sends one message per sendmsg therefore delivers a message's fds in the chunk in
 * which that message's header starts, and that message is the last one starting in the chunk.
 * So: fds of a chunk go to the last message whose first byte is in the chunk; if no message
 * starts in it, to the message in progress.
 *
 * Header-level checks (version, size limit per request code) run on the 12 header bytes, before
 * any payload byte is buffered, so a hostile size never makes us allocate.
 */
import { VHOST_USER_HEADER_SIZE } from './codes.js';
import { checkHeader, decodeHeader, type VhostUserHeader } from './message-header.js';
import type { Direction } from './message-layout.js';
import { VhostUserError } from '../errors.js';

export interface FramedMessage { header: VhostUserHeader; payload: Uint8Array; fds: number[] }

export interface PushResult {
  messages: FramedMessage[];
  /** Set when the stream cannot be framed any further; the framer is then dead. */
  error?: VhostUserError;
}

export class MessageFramer {
  private readonly direction: Direction;
  private readonly headerBuf = new Uint8Array(VHOST_USER_HEADER_SIZE);
  private headerFill = 0;
  private header: VhostUserHeader | null = null;
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  /** fds of the message in progress (header started, not complete). */
  private currentFds: number[] = [];
  private dead: VhostUserError | null = null;
  /** fds that arrived with bytes we will never deliver (after a framing error). */
  private orphans: number[] = [];

  constructor(direction: Direction) { this.direction = direction; }

  get broken(): VhostUserError | null { return this.dead; }

  /** True when a message is partially received (EOF now would be HEADER_SHORT/PAYLOAD_SHORT). */
  get midMessage(): boolean { return this.headerFill > 0 || this.header !== null; }

  /**
   * Feed one recvmsg result. Ownership of `fds` passes to the framer: they come back attached to
   * messages, or through `takeHeldFds()` for the caller to close.
   */
  push(bytes: Uint8Array, fds: readonly number[] = []): PushResult {
    const messages: FramedMessage[] = [];
    if (this.dead) {
      this.orphans.push(...fds);
      return { messages, error: this.dead };
    }
    // Sequence number (within this push) of the last message whose header starts in this chunk;
    // -1 = none started here, so the fds belong to the message that was already in progress.
    let lastStart = -1;
    let pos = 0;
    while (pos < bytes.byteLength) {
      if (this.header === null) {
        if (this.headerFill === 0) lastStart = messages.length;
        const n = Math.min(VHOST_USER_HEADER_SIZE - this.headerFill, bytes.byteLength - pos);
        this.headerBuf.set(bytes.subarray(pos, pos + n), this.headerFill);
        this.headerFill += n; pos += n;
        if (this.headerFill < VHOST_USER_HEADER_SIZE) break;
        const h = decodeHeader(this.headerBuf);
        try {
          checkHeader(h, this.direction);
        } catch (e) {
          // Complete messages before the bad header are still delivered; everything else is held.
          this.dead = e as VhostUserError;
          this.orphans.push(...this.currentFds, ...fds);
          this.currentFds = [];
          return { messages, error: this.dead };
        }
        this.header = h;
        this.payload = new Uint8Array(h.size);
        this.payloadFill = 0;
      }
      const n = Math.min(this.header.size - this.payloadFill, bytes.byteLength - pos);
      this.payload!.set(bytes.subarray(pos, pos + n), this.payloadFill);
      this.payloadFill += n; pos += n;
      if (this.payloadFill === this.header.size) {
        messages.push({ header: this.header, payload: this.payload!, fds: this.currentFds });
        this.header = null; this.payload = null; this.payloadFill = 0; this.headerFill = 0; this.currentFds = [];
      }
    }
    if (fds.length > 0) {
      const target = lastStart === -1 ? 0 : lastStart; // -1: the in-progress message, which completes first (index 0) or is still open
      const m = messages[target];
      if (m !== undefined) m.fds.push(...fds);
      else this.currentFds.push(...fds);
    }
    return { messages };
  }

  /**
   * fds the framer still holds (message in progress, or received after the stream broke).
   * The caller closes them when the connection ends.
   */
  takeHeldFds(): number[] {
    const out = [...this.currentFds, ...this.orphans];
    this.currentFds = []; this.orphans = [];
    return out;
  }

  /** Error for an EOF at this point, or null if EOF falls between messages. */
  eofError(): VhostUserError | null {
    if (this.header !== null) return new VhostUserError('PAYLOAD_SHORT', `peer closed after ${this.payloadFill}/${this.header.size} payload bytes`);
    if (this.headerFill > 0) return new VhostUserError('HEADER_SHORT', `peer closed after ${this.headerFill}/${VHOST_USER_HEADER_SIZE} header bytes`);
    return null;
  }
}
