/**
 * The engine's side of the holder link (holder.ts explains the split). An engine started by a
 * holder finds the link at the fd named by VTCON_HOLDER_FD, says hello with the version of the
 * state it writes, and waits: as a standby until `activate`, as an upgrade candidate until
 * `check`. Active, it asks the holder to hold each VM's socket and gets each front-end connection
 * as the engine's end of a socketpair, with `resumed` and the state it last saved when the
 * connection outlived an earlier engine.
 */
import { HolderLink, type LinkRecord } from './link.js';
import { safeClose } from '../socket/connection.js';
import type { VhostUserError } from '../errors.js';

export const HOLDER_FD_ENV = 'VTCON_HOLDER_FD';

/** What a held connection brings with it. */
export interface HeldConnectionInfo {
  /** The holder's id of the connection (for `dropped`). */
  conn: number;
  /** The connection outlived an earlier engine: the holder replays its state; rings resume from used. */
  resumed: boolean;
  /** The state this VM's device saved last (resumed only), as saveState was given it. */
  state: unknown;
}

export interface EngineLinkHandlers {
  /** Become the active engine (start serving). */
  onActivate(): void;
  /** A planned upgrade replaces this engine: exit (the holder keeps every connection). */
  onRetire(): void;
  /** Can this engine adopt state of these versions? (upgrade candidates only) */
  onCheck(versions: number[]): { ok: boolean; reason?: string };
  /** The holder is gone: nothing can be served any more. */
  onClose(err: VhostUserError | null): void;
}

export class EngineLink {
  private readonly link: HolderLink;
  private readonly vms = new Map<string, (fd: number, info: HeldConnectionInfo) => void>();
  private readonly holds = new Map<string, { resolve(): void; reject(e: Error): void }>();

  /** The link from the environment (VTCON_HOLDER_FD), or null when not started by a holder. */
  static fromEnv(stateVersion: number, h: EngineLinkHandlers, env: NodeJS.ProcessEnv = process.env): EngineLink | null {
    const v = env[HOLDER_FD_ENV];
    if (v === undefined || !/^\d+$/.test(v)) return null;
    return new EngineLink(Number(v), stateVersion, h);
  }

  constructor(fd: number, readonly stateVersion: number, private readonly h: EngineLinkHandlers) {
    this.link = new HolderLink(fd, {
      onRecord: (r, fds) => this.fromHolder(r, fds),
      onClose: (err) => {
        for (const p of this.holds.values()) p.reject(new Error('the holder link closed'));
        this.holds.clear();
        this.h.onClose(err);
      },
    });
    this.link.send({ op: 'hello', stateVersion, pid: process.pid });
  }

  /**
   * Ask the holder to hold `socket` for `vm`; resolves once it listens (rejects with its reason:
   * a path taken, a directory missing). Each front-end connection comes to `onConnection`.
   */
  hold(vm: string, socket: string, onConnection: (fd: number, info: HeldConnectionInfo) => void): Promise<void> {
    this.vms.set(vm, onConnection);
    return new Promise((resolve, reject) => {
      this.holds.set(vm, { resolve, reject });
      this.send({ op: 'hold', vm, socket });
    });
  }

  /** The VM is gone from this engine: the holder closes its socket and connection. */
  unhold(vm: string): void {
    this.vms.delete(vm);
    this.send({ op: 'unhold', vm });
  }

  /** The device's state to hand to the next engine. Sent before the change is visible to the guest. */
  saveState(vm: string, state: unknown): void {
    // Only the newest state of a VM matters: one still queued is replaced, not added to.
    this.send({ op: 'state', vm, state, version: this.stateVersion }, `state:${vm}`);
  }

  /** This engine ended the session of connection `conn` (the holder closes QEMU's socket). */
  dropped(vm: string, conn: number): void {
    this.send({ op: 'drop', vm, conn });
  }

  /** Every VM of this engine's config is held: the holder lets go of VMs nobody serves. */
  ready(): void {
    this.send({ op: 'ready' });
  }

  close(): void { this.link.close(); }

  /** `supersedes`: a key whose record still queued this one replaces (HolderLink.sendLatest). */
  private send(r: LinkRecord, supersedes?: string): void {
    if (this.link.isClosed) return; // onClose told the owner
    if (supersedes !== undefined) this.link.sendLatest(supersedes, r);
    else this.link.send(r);
  }

  private fromHolder(r: LinkRecord, fds: number[]): void {
    switch (r.op) {
      case 'activate': this.h.onActivate(); break;
      case 'retire': this.h.onRetire(); break;
      case 'check': {
        const versions = Array.isArray(r.versions) ? r.versions.filter((x): x is number => typeof x === 'number') : [];
        const res = this.h.onCheck(versions);
        this.send({ op: 'checked', ok: res.ok, reason: res.reason ?? null });
        break;
      }
      case 'connection': {
        const on = typeof r.vm === 'string' ? this.vms.get(r.vm) : undefined;
        const fd = fds.shift();
        if (on && fd !== undefined && typeof r.conn === 'number') {
          on(fd, { conn: r.conn, resumed: r.resumed === true, state: r.state ?? null });
        } else if (fd !== undefined) safeClose(fd);
        break;
      }
      case 'holding': {
        const vm = typeof r.vm === 'string' ? r.vm : '';
        const p = this.holds.get(vm);
        this.holds.delete(vm);
        if (typeof r.error === 'string') { this.vms.delete(vm); p?.reject(new Error(r.error)); } else p?.resolve();
        break;
      }
      default: break; // future records: nothing to do
    }
    for (const fd of fds) safeClose(fd);
  }
}
