/**
 * The holder's VMs: per VM the listening socket, the one front-end connection it holds
 * (HeldConnection) and the state blob the engine saved for it. The engine side is whatever
 * `activeLink()` returns: the active engine's link, or null while there is none (connections
 * wait, their requests kept).
 */
import { chmodSync, rmSync } from 'node:fs';
import * as native from '../native.js';
import { safeClose } from '../socket/connection.js';
import type { Logger } from '../protocol/device.js';
import type { VhostUserError } from '../errors.js';
import { HeldConnection } from './held-connection.js';
import type { HolderLink } from './link.js';

export interface HeldVm {
  vm: string;
  socket: string;
  listenFd: number;
  watch: native.FdWatch | null;
  conn: HeldConnection | null;
  state: unknown;
  stateVersion: number | null;
}

/** The active engine as HeldVms sees it: its link and the VMs it asked to hold. */
export interface ServingEngine { link: HolderLink; held: Set<string> }

export class HeldVms {
  private readonly vms = new Map<string, HeldVm>();
  private nextConn = 1;

  constructor(
    private readonly log: Logger,
    private readonly activeEngine: () => ServingEngine | null,
    /** Something changed that the status file shows. */
    private readonly changed: () => void,
  ) {}

  values(): HeldVm[] { return [...this.vms.values()]; }
  get(vm: string): HeldVm | undefined { return this.vms.get(vm); }
  get anyConnected(): boolean { return this.values().some((v) => v.conn !== null); }

  /** The engine asks for `vm` on `socket`: listen (or keep listening), serve a held connection. */
  hold(e: ServingEngine, vm: string, socket: string): void {
    e.held.add(vm);
    let v = this.vms.get(vm);
    if (v && v.socket !== socket) { this.unhold(vm); v = undefined; }
    if (!v) {
      let listenFd: number;
      try {
        listenFd = native.listenUnix(socket);
        chmodSync(socket, 0o600); // QEMU runs as this user, or is given access by the operator
      } catch (err) {
        e.link.send({ op: 'holding', vm, error: (err as Error).message });
        return;
      }
      v = { vm, socket, listenFd, watch: null, conn: null, state: null, stateVersion: null };
      this.vms.set(vm, v);
      this.watchListen(v);
    }
    e.link.send({ op: 'holding', vm });
    if (v.conn) this.serve(v, v.conn);
  }

  /** Let go of `vm`: its connection ends (QEMU sees the back-end close) and its socket goes. */
  unhold(vm: string): void {
    const v = this.vms.get(vm);
    if (!v) return;
    this.vms.delete(vm);
    v.watch?.stop();
    v.conn?.end();
    safeClose(v.listenFd);
    rmSync(v.socket, { force: true });
  }

  /** The active engine is gone: every connection keeps its requests for the next one. */
  detachAll(): void {
    for (const v of this.vms.values()) v.conn?.detachEngine();
  }

  private watchListen(v: HeldVm): void {
    v.watch = native.watchFd(v.listenFd, 'readable', () => this.accept(v), (err) => {
      this.log.error({ vm: v.vm, err: (err as Error)?.message }, 'accept handler failed; this VM takes no new front-end');
      v.watch = null;
    });
  }

  private accept(v: HeldVm): void {
    if (v.conn) return;
    let fd: number | null;
    try { fd = native.accept(v.listenFd); } catch (err) { this.log.warn({ vm: v.vm, err: (err as Error).message }, 'accept failed'); return; }
    if (fd === null) return;
    // One front-end at a time: a second connect waits in the backlog until this one ends.
    v.watch?.stop(); v.watch = null;
    let conn: HeldConnection;
    try {
      conn = new HeldConnection(this.nextConn++, v.vm, fd, this.log, (c, err) => this.connectionEnded(v, c, err), (c) => this.engineLeft(v, c));
    } catch (err) {
      this.log.error({ vm: v.vm, err: (err as Error).message }, 'front-end connection could not be held');
      this.watchListen(v);
      return;
    }
    v.conn = conn;
    v.state = null;
    this.log.info({ vm: v.vm, conn: conn.id }, 'front-end connected (held)');
    if (this.activeEngine()?.held.has(v.vm)) this.serve(v, conn);
    this.changed();
  }

  /** Give the active engine its end of a new socketpair for this connection. */
  private serve(v: HeldVm, conn: HeldConnection): void {
    const e = this.activeEngine();
    if (!e || e.link.isClosed) return;
    const [mine, theirs] = native.socketPair('stream');
    const resumed = conn.replay.size > 0;
    e.link.send({ op: 'connection', vm: v.vm, conn: conn.id, resumed, state: resumed ? v.state : null }, [theirs]);
    conn.attachEngine(mine);
  }

  /**
   * The engine closed its end of a connection. It sends `drop` when it ends a session on purpose;
   * when it is dying its link closes too. A live engine that closed without a drop (a bug) must
   * not leave QEMU waiting: after a grace period the connection ends.
   */
  private engineLeft(v: HeldVm, c: HeldConnection): void {
    setTimeout(() => {
      const e = this.activeEngine();
      if (v.conn === c && !c.hasEngine && e && !e.link.isClosed && e.held.has(v.vm)) {
        this.log.error({ vm: v.vm, conn: c.id }, 'engine closed a connection without a drop record; ending it');
        c.end();
      }
    }, 2000).unref();
  }

  private connectionEnded(v: HeldVm, c: HeldConnection, err: VhostUserError | null): void {
    if (v.conn !== c) return;
    v.conn = null;
    v.state = null;
    if (err && err.reason !== 'PEER_CLOSED') this.log.warn({ vm: v.vm, conn: c.id, reason: err.reason, err: err.message }, 'front-end connection ended');
    else this.log.info({ vm: v.vm, conn: c.id }, 'front-end disconnected');
    if (this.vms.get(v.vm) === v && !v.watch) this.watchListen(v);
    this.changed();
  }
}
