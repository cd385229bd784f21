/**
 * The holder: a small, long-lived process that owns every VM's listening socket and accepted
 * vhost-user connection, so the engine (the process that parses guest input: protocol, mappings,
 * queues, logs, control API) can die or be replaced under a running QEMU.
 *
 * What it keeps: per VM the listening socket, the QEMU connection (HeldConnection: the request
 * in flight and a ReplayLog of the state QEMU set up, with its fds) and the engine's last state
 * blob (opaque JSON: the port table and guest handshake state). It never maps guest memory and
 * parses nothing beyond vhost-user headers and vring indices.
 *
 * Engines: the active one, plus a warm standby already started (modules loaded) so a crash costs a
 * hand-over, not a process start. An engine that dies is replaced by the standby (or a new one,
 * with backoff; after `maxFastCrashes` short-lived engines in a row the holder stops trying and
 * reports the engine down, keeping every connection). `upgrade()` (SIGUSR2) starts an engine from
 * the code on disk, has it check the kept state (versioned), retires the old one and hands over;
 * a refused check keeps the old engine.
 *
 * Link records (link.ts), engine → holder: hello {stateVersion}, hold {vm, socket}, unhold {vm},
 * state {vm, state}, drop {vm, conn}, ready, checked {ok, reason}. Holder → engine: activate,
 * connection {vm, conn, resumed, state} + the engine's end of a socketpair, check {versions},
 * retire.
 */
import { renameSync, writeFileSync } from 'node:fs';
import * as native from '../native.js';
import { safeClose } from '../socket/connection.js';
import type { Logger } from '../protocol/device.js';
import { HeldVms } from './held-vms.js';
import { HolderLink, type LinkRecord } from './link.js';

/** A started engine process, as the holder's caller made it. */
export interface EngineProcess {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  /** The engine uses linkFd itself (an in-process engine, tests): the holder must not close it. */
  readonly keepsLinkFd?: boolean;
}

export interface HolderOptions {
  log: Logger;
  /** Start an engine whose link is `linkFd` (to be its fd 3; the caller closes its copy after spawn). */
  startEngine(linkFd: number): EngineProcess;
  /** Keep a warm standby engine (default true). */
  standby?: boolean;
  /** Written (atomically) on every change: what `vtcon ls` shows when the engine is down. */
  statusPath?: string;
  /**
   * Crash loop: an engine that dies within fastCrashMs (default 5 s) of becoming active, or
   * before, is a fast crash; maxFastCrashes (default 10) of them in a row and the holder stops
   * starting engines (connections kept, status 'down'). Restarts after the second fast crash
   * in a row back off (100 ms doubling to 5 s) unless a standby is ready.
   */
  fastCrashMs?: number;
  maxFastCrashes?: number;
  /**
   * The first engine died before it was ever ready and no connection is held: nothing to keep,
   * so the caller can exit with the engine's error instead of restarting it (a bad install).
   */
  onNeverReady?(why: string): void;
}

interface Engine {
  link: HolderLink;
  proc: EngineProcess;
  startedAt: number;
  activatedAt: number;
  stateVersion: number | null;
  role: 'starting' | 'standby' | 'candidate' | 'active' | 'retiring';
  /** VMs this engine asked to hold (after activation). */
  held: Set<string>;
}


export interface HolderStatus {
  holderPid: number;
  engine: { pid: number; since: string } | null;
  engineState: 'starting' | 'up' | 'restarting' | 'down';
  standbyPid: number | null;
  /** The standby has loaded and said hello: a crash now is a hand-over, not a start. */
  standbyReady: boolean;
  restarts: number;
  lastExit: string | null;
  vms: { vm: string; socket: string; connected: boolean; requests: number; kept: number }[];
  /** The last upgrade asked for: started, done (the new engine took over), refused or failed. */
  upgrade: { at: string; result: 'started' | 'done' | 'refused' | 'failed'; reason: string | null; pid: number | null } | null;
}

export class Holder {
  private readonly vms: HeldVms;
  private readonly engines = new Set<Engine>();
  private active: Engine | null = null;
  private restarts = 0;
  private fastCrashes = 0;
  private lastExit: string | null = null;
  private down = false;
  private everReady = false;
  private lastUpgrade: HolderStatus['upgrade'] = null;
  private stopping = false;
  private respawnTimer: NodeJS.Timeout | null = null;
  private readonly standby: boolean;
  private readonly fastCrashMs: number;
  private readonly maxFastCrashes: number;

  constructor(private readonly o: HolderOptions) {
    this.standby = o.standby ?? true;
    this.fastCrashMs = o.fastCrashMs ?? 5_000;
    this.maxFastCrashes = o.maxFastCrashes ?? 10;
    this.vms = new HeldVms(o.log, () => this.active, () => this.writeStatus());
  }

  start(): void {
    this.spawn('starting');
  }

  /** Planned upgrade: an engine from the code on disk takes over if it accepts the kept state. */
  upgrade(): void {
    if (this.stopping) return;
    this.down = false;
    this.fastCrashes = 0;
    for (const e of this.engines) if (e.role === 'standby' || e.role === 'candidate') this.kill(e);
    this.lastUpgrade = { at: new Date().toISOString(), result: 'started', reason: null, pid: null };
    // With no engine (down after a crash loop) the candidate simply takes over once it checked the state.
    this.o.log.info({ running: this.active?.proc.pid ?? null }, 'upgrade: starting an engine from the code on disk');
    this.spawn('candidate');
    this.writeStatus();
  }

  /** Stop the engines and let every connection go (QEMU sees the back-end close). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    const exits = [...this.engines].map((e) => new Promise<void>((r) => {
      const t = setTimeout(() => { e.proc.kill('SIGKILL'); r(); }, 10_000);
      const prev = e.link;
      const check = setInterval(() => { if (prev.isClosed) { clearTimeout(t); clearInterval(check); r(); } }, 20);
      e.proc.kill('SIGTERM');
    }));
    await Promise.all(exits);
    for (const v of this.vms.values()) this.vms.unhold(v.vm);
    this.writeStatus();
  }

  status(): HolderStatus {
    const standby = [...this.engines].find((e) => e.role === 'standby');
    return {
      holderPid: process.pid,
      engine: this.active ? { pid: this.active.proc.pid, since: new Date(this.active.startedAt).toISOString() } : null,
      engineState: this.down ? 'down' : this.active ? 'up' : this.restarts === 0 ? 'starting' : 'restarting',
      standbyPid: standby?.proc.pid ?? null,
      standbyReady: standby !== undefined && standby.stateVersion !== null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      vms: this.vms.values().map((v) => ({ vm: v.vm, socket: v.socket, connected: v.conn !== null, requests: v.conn?.requests ?? 0, kept: v.conn?.replay.size ?? 0 })),
      upgrade: this.lastUpgrade,
    };
  }

  // ------------------------------------------------------------------ engines

  private spawn(role: Engine['role']): void {
    if (this.stopping) return;
    const [mine, theirs] = native.socketPair('seqpacket');
    let proc: EngineProcess;
    try {
      proc = this.o.startEngine(theirs);
    } catch (e) {
      safeClose(mine); safeClose(theirs);
      this.o.log.error({ err: (e as Error).message }, 'engine could not be started');
      this.crashed(null, 'spawn failed');
      if (!this.down && !this.active) this.respawnLater(() => this.spawn('starting'));
      return;
    }
    if (!proc.keepsLinkFd) safeClose(theirs); // the child has its own copy
    const e: Engine = { link: null as unknown as HolderLink, proc, startedAt: Date.now(), activatedAt: 0, stateVersion: null, role, held: new Set() };
    e.link = new HolderLink(mine, {
      onRecord: (r, fds) => { for (const fd of fds) safeClose(fd); this.fromEngine(e, r); },
      onClose: (err) => this.engineGone(e, err?.message ?? 'link closed'),
    });
    this.engines.add(e);
    this.o.log.info({ pid: proc.pid, role }, 'engine started');
    this.writeStatus();
  }

  private kill(e: Engine): void {
    this.engines.delete(e);
    e.link.close();
    try { e.proc.kill('SIGKILL'); } catch { /* gone */ }
  }

  private activate(e: Engine): void {
    if (e.role === 'candidate') this.upgradeEnded('done', null, e);
    e.role = 'active';
    e.activatedAt = Date.now();
    this.active = e;
    e.link.send({ op: 'activate' });
    this.o.log.info({ pid: e.proc.pid }, 'engine active');
    this.writeStatus();
  }

  private upgradeEnded(result: 'done' | 'refused' | 'failed', reason: string | null, e: Engine): void {
    if (this.lastUpgrade) this.lastUpgrade = { ...this.lastUpgrade, result, reason, pid: e.proc.pid };
  }

  private engineGone(e: Engine | null, why: string): void {
    if (e) {
      if (!this.engines.delete(e)) return; // killed on purpose
      e.link.close();
    }
    if (this.stopping) return;
    if (e && e !== this.active) {
      if (e.role === 'candidate') {
        this.o.log.error({ pid: e.proc.pid, why }, 'upgrade: the new engine died before taking over; the running engine stays');
        this.upgradeEnded('failed', why, e);
        if (this.active) this.spawnStandby();
      }
      else this.o.log.warn({ pid: e.proc.pid, why, role: e.role }, 'spare engine exited');
      if (e.role === 'standby' && this.active) this.respawnLater(() => this.spawnStandby());
      if (e.role === 'starting' && !this.active) {
        this.crashed(e, why);
        if (!this.down) this.respawnLater(() => this.spawn('starting'));
      }
      return;
    }
    // The active engine is gone: every connection waits (kept) for the next one.
    const retired = e?.role === 'retiring';
    this.active = null;
    this.vms.detachAll();
    if (retired) this.lastExit = `retired for an upgrade (pid ${e!.proc.pid})`;
    else this.crashed(e, why);
    if (this.down) return;
    const next = [...this.engines].find((x) => x.role === (retired ? 'candidate' : 'standby') && x.stateVersion !== null)
      ?? [...this.engines].find((x) => x.role === 'standby' && x.stateVersion !== null);
    if (next) {
      this.activate(next);
    } else if (![...this.engines].some((x) => x.role === 'starting' || x.role === 'standby' || x.role === 'candidate')) {
      this.respawnLater(() => this.spawn('starting'));
    }
    this.writeStatus();
  }

  private crashed(e: Engine | null, why: string): void {
    if (!this.everReady && this.o.onNeverReady && !this.vms.anyConnected) {
      this.down = true;
      for (const x of [...this.engines]) this.kill(x);
      this.o.onNeverReady(why);
      return;
    }
    this.restarts++;
    this.lastExit = `${why}${e ? ` (pid ${e.proc.pid}, ${e.activatedAt ? `${Date.now() - e.activatedAt} ms after it became active` : 'before it became active'})` : ''}`;
    const fast = !e || e.activatedAt === 0 || Date.now() - e.activatedAt < this.fastCrashMs;
    this.fastCrashes = fast ? this.fastCrashes + 1 : 0;
    this.o.log.error({ why: this.lastExit, restarts: this.restarts }, 'engine exited; connections kept, handing over to the next engine');
    if (this.fastCrashes >= this.maxFastCrashes) {
      this.down = true;
      for (const x of [...this.engines]) this.kill(x);
      this.o.log.error({ crashes: this.fastCrashes }, 'engine crash loop: not restarting; every connection is kept (SIGUSR2 or `vtcon upgrade` tries again)');
    }
    this.writeStatus();
  }

  private respawnLater(fn: () => void): void {
    if (this.respawnTimer || this.down) return;
    const delay = this.fastCrashes <= 1 ? 0 : Math.min(5000, 100 * 2 ** (this.fastCrashes - 2));
    this.respawnTimer = setTimeout(() => { this.respawnTimer = null; fn(); }, delay);
  }

  private spawnStandby(): void {
    if (!this.standby || this.down || !this.active || [...this.engines].some((x) => x.role === 'standby' || x.role === 'starting')) return;
    this.spawn('standby');
  }

  private fromEngine(e: Engine, r: LinkRecord): void {
    if (!this.engines.has(e)) return;
    switch (r.op) {
      case 'hello': {
        e.stateVersion = typeof r.stateVersion === 'number' ? r.stateVersion : 0;
        if (e.role === 'starting') {
          if (!this.active) this.activate(e); else e.role = 'standby';
        } else if (e.role === 'candidate') {
          e.link.send({ op: 'check', versions: [...new Set(this.vms.values().map((v) => v.stateVersion).filter((x) => x !== null))] });
        } else if (e.role === 'standby' && !this.active && !this.down) {
          this.activate(e);
        }
        this.writeStatus();
        return;
      }
      case 'checked': {
        if (e.role !== 'candidate') return;
        if (r.ok !== true) {
          this.o.log.error({ reason: r.reason }, 'upgrade refused by the new engine: the running engine stays');
          this.upgradeEnded('refused', typeof r.reason === 'string' ? r.reason : 'refused', e);
          this.kill(e);
          this.spawnStandby();
          return;
        }
        const old = this.active;
        if (!old) { this.activate(e); return; }
        old.role = 'retiring';
        old.link.send({ op: 'retire' });
        this.o.log.info({ old: old.proc.pid, next: e.proc.pid }, 'upgrade: retiring the running engine');
        return;
      }
    }
    if (e !== this.active) return; // only the active engine holds and drops
    const vm = typeof r.vm === 'string' ? r.vm : '';
    switch (r.op) {
      case 'hold': this.vms.hold(e, vm, String(r.socket ?? '')); break;
      case 'unhold': e.held.delete(vm); this.vms.unhold(vm); break;
      case 'state': {
        const v = this.vms.get(vm);
        if (v) { v.state = r.state; v.stateVersion = typeof r.version === 'number' ? r.version : e.stateVersion; }
        // The status file does not show state blobs; a guest's handshake churn must not cost a file write each.
        return;
      }
      case 'drop': {
        const v = this.vms.get(vm);
        if (v?.conn && v.conn.id === r.conn) v.conn.end();
        break;
      }
      case 'ready': {
        this.everReady = true;
        // Only now: a standby booting beside the engine that is taking over would slow it down.
        this.spawnStandby();
        // VMs kept from the previous engine that this one does not serve (gone from its config).
        for (const v of this.vms.values()) if (!e.held.has(v.vm)) { this.o.log.warn({ vm: v.vm }, 'the new engine does not serve this VM: connection closed'); this.vms.unhold(v.vm); }
        break;
      }
    }
    this.writeStatus();
  }

  private writeStatus(): void {
    const path = this.o.statusPath;
    if (!path) return;
    try {
      writeFileSync(`${path}.tmp`, `${JSON.stringify(this.status())}\n`, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'holder status not written');
    }
  }
}
