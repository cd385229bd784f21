/**
 * A raw vhost-user client for bad-input tests and the fuzzer: writes arbitrary bytes and fds,
 * reads whatever comes back. Not part of the public API.
 */
import * as native from '../native.js';
import { FrontendRequest as R } from './codes.js';
import { encodeMessage } from './message.js';

export class RawClient {
  readonly fd: number;
  private buf = Buffer.alloc(0);
  private eof = false;
  private watch: { stop(): void } | null;
  private wake: (() => void) | null = null;

  constructor(path: string) {
    this.fd = native.connectUnix(path);
    this.watch = native.watchFd(this.fd, 'readable', () => this.drain());
  }

  private drain(): void {
    const b = new Uint8Array(65536);
    for (let i = 0; i < 64; i++) {
      let r;
      try { r = native.recvMsg(this.fd, b, 8); } catch { this.eof = true; break; }
      if (r === null) break;
      for (const f of r.fds) native.close(f);
      if (r.bytes === 0) { this.eof = true; break; }
      this.buf = Buffer.concat([this.buf, b.subarray(0, r.bytes)]);
    }
    if (this.eof) { this.watch?.stop(); this.watch = null; }
    this.wake?.();
  }

  /** Best effort: a peer that already closed gives EPIPE/ECONNRESET, which we report as false. */
  send(bytes: Uint8Array, fds: number[] = []): boolean {
    try { native.sendMsg(this.fd, bytes, fds); return true; } catch { return false; }
  }

  /** Wait until `n` bytes are buffered, EOF, or the timeout; returns them (or fewer). */
  async read(n: number, timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.byteLength < n && !this.eof && Date.now() < deadline) {
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, Math.max(1, deadline - Date.now())); });
      this.wake = null;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.byteLength);
    return out;
  }

  /** Resolves true once the peer closed (EOF), false after the timeout. */
  async closedByPeer(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.eof && Date.now() < deadline) {
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, Math.max(1, Math.min(50, deadline - Date.now()))); });
      this.wake = null;
    }
    return this.eof;
  }

  close(): void {
    this.watch?.stop(); this.watch = null;
    try { native.close(this.fd); } catch { /* already closed */ }
  }
}

export function openFdCount(): number { return fdDir(); }
import { readdirSync, readFileSync } from 'node:fs';
function fdDir(): number { return readdirSync('/proc/self/fd').length; }
/** memfd mappings in this process (guest RAM, inflight buffers). */
export function memfdMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('/memfd:')).length;
}

/**
 * A front-end that never reads a reply: GET_FEATURES (a 20-byte reply each), 1,000 per write on
 * `fd`, until `ended()` says the other side let go, the socket refuses (EPIPE/ECONNRESET), or
 * `max` requests went out. Yields to the event loop between writes so the other side can read.
 */
export async function floodUnread(fd: number, ended: () => boolean, max = 200_000): Promise<{ sent: number; gone: boolean }> {
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => encodeMessage({ request: R.GET_FEATURES, flags: 0x1, payload: { kind: 'none' } })));
  const pause = () => new Promise((r) => setTimeout(r, 10));
  let sent = 0;
  let gone = false;
  while (!gone && sent < max) {
    try {
      const n = native.sendMsg(fd, batch);
      sent += Math.floor(n / 12);
      if (n < batch.length) await pause(); // our socket is full: let the other side read
    } catch (e) {
      if ((e as { code?: string }).code === 'EAGAIN') await pause();
      else gone = true; // EPIPE / ECONNRESET: the other side closed us
    }
    await new Promise((r) => setImmediate(r));
    if (ended()) gone = true;
  }
  return { sent, gone };
}
