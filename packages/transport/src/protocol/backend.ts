/**
 * VhostUserBackend: serves one VhostUserDevice per connection on one listening Unix socket
 * (one socket per VM). One connection at a time: while a front-end is connected the listening
 * fd is not polled, so a second connect waits in the backlog until the first one ends.
 *
 * Never fatal: a protocol error closes that connection only (queues stopped, mappings released,
 * fds closed, device.disconnected()), is logged, and the backend listens again.
 *
 * Each connection is a BackendSession (backend-session.ts: request order, replies, teardown);
 * its requests are handled per family in backend-features/status/memory/vring/config/
 * channel/inflight.ts, on the state in backend-state.ts.
 */
import * as native from '../native.js';
import { safeClose } from '../socket/connection.js';
import { SUPPORTED_PROTOCOL_FEATURES, VHOST_USER_MAX_MEM_REGIONS, VHOST_USER_MAX_QUEUES, protocolFeatureMask, type VhostUserProtocolFeatureName } from './codes.js';
import { silentLogger, type Logger, type VhostUserDevice } from './device.js';
import { BackendSession } from './backend-session.js';
import type { EngineLink, HeldConnectionInfo } from '../holder/engine-link.js';

export interface VhostUserBackendOptions {
  socketPath: string;
  createDevice: () => VhostUserDevice;
  logger?: Logger;
  /** Protocol features offered; default: every one this implementation supports. */
  protocolFeatures?: readonly VhostUserProtocolFeatureName[];
  /** GET_MAX_MEM_SLOTS answer and ADD_MEM_REG limit (default 8). */
  maxMemSlots?: number;
  /**
   * Accept guest memory (and inflight) fds without F_SEAL_SHRINK — hugetlbfs or tmpfs files,
   * which cannot be sealed. Default false: such a table is refused (MEMORY_NOT_SEALED), because
   * a front-end that shrinks a mapped file kills the whole process with SIGBUS. Set it only for
   * a front-end you trust not to truncate its RAM.
   */
  trustUnsealedMemory?: boolean;
  /**
   * Served through a holder (holder/holder.ts): the holder listens on socketPath and keeps the
   * connections; this back-end gets each as a socketpair end, and resumes one that outlived an
   * earlier engine (its state replayed, rings from their used index, device.adopt(state)).
   */
  held?: { link: EngineLink; vm: string };
}

export class VhostUserBackend {
  readonly socketPath: string;
  private readonly createDevice: () => VhostUserDevice;
  private readonly log: Logger;
  private readonly offeredProtocol: bigint;
  private readonly maxSlots: number;
  private readonly trustUnsealedMemory: boolean;
  private readonly held: { link: EngineLink; vm: string } | null;
  private listenFd = -1;
  private listenWatch: { stop(): void } | null = null;
  private session: BackendSession | null = null;
  private closing = false;
  /** Connections served so far (tests, metrics). */
  connections = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(opts: VhostUserBackendOptions) {
    this.socketPath = opts.socketPath;
    this.createDevice = opts.createDevice;
    this.log = opts.logger ?? silentLogger;
    this.offeredProtocol = protocolFeatureMask(opts.protocolFeatures ?? SUPPORTED_PROTOCOL_FEATURES);
    this.maxSlots = Math.min(opts.maxMemSlots ?? VHOST_USER_MAX_MEM_REGIONS, 509);
    this.trustUnsealedMemory = opts.trustUnsealedMemory === true;
    this.held = opts.held ?? null;
  }

  get connected(): boolean { return this.session !== null; }

  /** Start listening, or (held) have the holder listen; resolves when front-ends can connect. */
  async start(): Promise<void> {
    if (!this.held) { this.listen(); return; }
    const { link, vm } = this.held;
    await link.hold(vm, this.socketPath, (fd, info) => { void this.serveHeld(fd, info); });
    this.log.info({ socket: this.socketPath }, 'vhost-user backend listening (held)');
  }

  /** Start listening (unlinks a stale socket file). */
  listen(): void {
    if (this.held) throw new Error('a held back-end starts with start()');
    if (this.listenFd >= 0) return;
    this.listenFd = native.listenUnix(this.socketPath);
    this.watchListen();
    this.log.info({ socket: this.socketPath }, 'vhost-user backend listening');
  }

  /** Resolves when the current connection (if any) has been fully torn down. */
  async idle(): Promise<void> { if (this.session) await this.session.done; }

  /** Resolves when a connection has been accepted (for tests). */
  waitForConnection(): Promise<void> {
    if (this.session) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Close the current connection (if any) and stop listening. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.held) {
      this.held.link.unhold(this.held.vm);
      const s = this.session;
      if (s) { s.conn.close(); await s.done; }
      return;
    }
    this.listenWatch?.stop(); this.listenWatch = null;
    if (this.listenFd >= 0) { safeClose(this.listenFd); this.listenFd = -1; }
    const s = this.session;
    if (s) { s.conn.close(); await s.done; }
    try { (await import('node:fs')).unlinkSync(this.socketPath); } catch { /* already gone */ }
  }

  /** Drop the current connection (as if the peer had gone), keep listening. */
  async disconnect(): Promise<void> {
    const s = this.session;
    if (s) { s.conn.close(); await s.done; }
  }

  private watchListen(): void {
    this.listenWatch = native.watchFd(this.listenFd, 'readable', (readable) => { if (readable) this.onAcceptable(); }, (e) => {
      // Only a bug gets here (onAcceptable catches what a peer can cause): say so loudly; the
      // watch has stopped, so this socket takes no new front-end.
      this.log.error({ err: (e as Error)?.message ?? String(e), socket: this.socketPath }, 'vhost-user accept handler threw; no longer accepting');
      this.listenWatch = null;
    });
  }

  private onAcceptable(): void {
    if (this.session || this.closing) return;
    let fd: number | null;
    try { fd = native.accept(this.listenFd); } catch (e) { this.log.warn({ err: (e as Error).message }, 'accept failed'); return; }
    if (fd === null) return;
    // One front-end at a time: stop accepting until this one is gone.
    this.listenWatch?.stop(); this.listenWatch = null;
    this.serve(fd, null);
  }

  /**
   * A connection the holder keeps: after the previous session (if any) is torn down. A loop, not
   * one wait: connections that arrive during one teardown all wake when it ends, and the first to
   * run starts a session the others must wait for in turn (one device, one session at a time).
   */
  private async serveHeld(fd: number, info: HeldConnectionInfo): Promise<void> {
    while (this.session) await this.session.done;
    if (this.closing) { safeClose(fd); return; }
    this.serve(fd, info);
  }

  private serve(fd: number, held: HeldConnectionInfo | null): void {
    let device: VhostUserDevice;
    try { device = this.createDevice(); } catch (e) {
      this.log.error({ err: (e as Error).message }, 'createDevice failed; connection refused');
      safeClose(fd); this.relisten(held); return;
    }
    if (held?.resumed) {
      try { device.adopt?.(held.state); } catch (e) {
        this.log.error({ err: (e as Error).message }, 'device refused the state kept for this connection; serving it from a fresh state');
      }
    }
    if (!(device.queueCount <= VHOST_USER_MAX_QUEUES)) {
      // Its later queues could never get their kick/call fds (a QEMU would alias them onto the
      // first 256): refuse the device whole rather than serve it half.
      this.log.error({ socket: this.socketPath, queues: device.queueCount, max: VHOST_USER_MAX_QUEUES }, `device has ${device.queueCount} queues; vhost-user addresses at most ${VHOST_USER_MAX_QUEUES} (SET_VRING_KICK's index is 8 bits); connection refused`);
      safeClose(fd);
      try { device.disconnected(); } catch { /* nothing was started */ }
      this.watchListen(); return;
    }
    let s: BackendSession;
    try {
      s = new BackendSession(fd, device, this.log, {
        offeredProtocol: this.offeredProtocol, maxSlots: this.maxSlots, trustUnsealedMemory: this.trustUnsealedMemory,
        resumed: held?.resumed === true,
      });
    } catch (e) {
      // The connection closed its fd itself (VhostUserConnection owns it from the start).
      this.log.error({ err: (e as Error).message }, 'vhost-user connection could not be set up');
      try { device.disconnected(); } catch { /* nothing was started */ }
      this.relisten(held); return;
    }
    this.connections++;
    this.session = s;
    this.log.info({ socket: this.socketPath, ...(held ? { conn: held.conn, resumed: held.resumed } : {}) }, held?.resumed ? 'vhost-user front-end taken over from the previous engine' : 'vhost-user front-end connected');
    for (const w of this.waiters.splice(0)) w();
    void s.done.then(() => {
      if (this.session === s) this.session = null;
      this.relisten(held);
    });
  }

  /** A session is over: listen again, or tell the holder to let go of QEMU's connection. */
  private relisten(held: HeldConnectionInfo | null): void {
    if (held) { this.held!.link.dropped(this.held!.vm, held.conn); return; }
    if (!this.closing && this.listenFd >= 0) this.watchListen();
  }
}
