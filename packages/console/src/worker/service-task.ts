/**
 * The long-lived piscina task that services a shard of port queues on a worker thread.
 *
 * Why long-lived: a piscina round trip costs ~57 µs here, so a task per kick would cap a port at
 * ~17k kicks/s. Instead one task per worker runs until shutdown; it watches its queues' kick
 * eventfds with the addon's uv_poll on this worker's own event loop, processes rings in batches
 * and writes call eventfds — the main thread is not on the per-kick path. Guest→host bytes are
 * copied from guest memory straight into the shard's byte ring (byte-ring.ts), published, and
 * only then the chains are marked used; the main thread (which owns the sinks) drains the ring.
 * A credit window per port (credits come back in batches) and the ring's size hold the guest back
 * when the main thread or a sink is slow, instead of growing memory.
 * A port with a log (AppendLog) has each pass's bytes appended to it before the used entries are
 * published: "used" means "in the log", which a crash of the daemon does not undo.
 *
 * Loaded by piscina: dist/ JS, or under vitest through test-support/service-task.mjs. Thread
 * contract: only this worker touches its queues' rings while they are started here.
 */
import type { MessagePort } from 'node:worker_threads';
import { DeviceQueue, GuestMemory, RawChain, type QueueConfig } from '@vtcon/ring';
import { RECORD_COMPLETE, RingWriter } from './byte-ring.js';
import { fillReceiveq } from '../port/receive.js';
import { Backlog } from '../port/backlog.js';
import { AppendLog } from '../sink/append-log.js';
import type { FromWorker, ShardTaskData, ToWorker } from './protocol.js';
import { callNotifier, type EventfdOps, watchKickFd } from '../device/guarded-eventfd.js';
import { checkChainBytes, MAX_PORT_CHAIN_BYTES } from '../port/chain-bound.js';
import { errorToWire } from '../errors.js';

interface Q {
  dev: number; index: number; port: number; dir: 'receiveq' | 'transmitq';
  /**
   * null: a receiveq that has had no host→guest bytes yet. An idle VM's receiveqs (one per port,
   * maxPorts of them: QEMU starts them all) then cost neither a DeviceQueue nor a kick watch; the
   * first bytes build both (openReceiveq). transmitqs are built at start (serviced at once).
   */
  queue: DeviceQueue | null; watch: { stop(): void } | null;
  /** Signal the guest (the call fd, guarded: throws a ConsoleError the servicing catch turns into fail()). */
  notify: () => void;
  /** What openReceiveq builds the queue from: the start message's ring and ring state. */
  mem: GuestMemory; config: QueueConfig; kickFd: number; startAvailIdx: number; startUsedIdx: number;
  /** transmitq: bytes posted to main not yet credited back. */
  outstanding: number; window: number;
  scheduled: boolean; dead: boolean;
  /** transmitq: a popped chain too big for the ring's free space, written in pieces; used when done. */
  partial: { head: number; bytes: Uint8Array; off: number } | null;
  /** transmitq: when this queue last woke the main thread (performance.now()). */
  lastWake: number;
  /** transmitq: the port's log, if it has one. */
  log: AppendLog | undefined;
}

export default async function serviceShard(data: ShardTaskData): Promise<string> {
  const mod = (await import(data.nativeModule)) as EventfdOps & { native?: EventfdOps };
  const ops: EventfdOps = mod.native ?? mod;
  const port: MessagePort = data.port;
  const batch = data.batch;
  const queues = new Map<string, Q>();
  const txByPort = new Map<string, Q>();
  const rxByPort = new Map<string, Q>();
  const pending = new Map<string, Backlog>();
  /** Each device's guest memory, by the generation of the memory table it came from (see RegionInit). */
  const memories = new Map<number, { gen: number; mem: GuestMemory }>();
  const logs = new Map<string, AppendLog>();
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer ?? []);
  const key = (dev: number, n: number): string => `${dev}:${n}`;

  function fail(q: Q, e: unknown): void {
    q.dead = true;
    q.watch?.stop(); q.watch = null;
    post({ t: 'error', dev: q.dev, index: q.index, error: errorToWire(e) });
  }

  function schedule(q: Q): void {
    if (q.scheduled) return;
    q.scheduled = true;
    setImmediate(() => { q.scheduled = false; service(q); });
  }

  const ring = new RingWriter(data.ring);
  const coalesceMs = data.coalesceMs;
  let wakeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Wake the main thread now if q was quiet, else once the coalescing interval is over. */
  function wakeMain(q: Q): void {
    const now = performance.now();
    if (coalesceMs <= 0 || now - q.lastWake >= coalesceMs) {
      q.lastWake = now;
      ring.wakeReader();
      return;
    }
    wakeTimer ??= setTimeout(() => { wakeTimer = null; ring.wakeReader(); }, coalesceMs);
  }
  const raw = new RawChain();
  /** transmitqs waiting for ring space (woken by the main thread's 'space'). */
  const spaceWaiters = new Set<Q>();
  /** The current pass's bytes for the port log (views into the ring, valid until publish). */
  const journal: Uint8Array[] = [];

  /** Write what is left of q.partial; true when the chain is complete (and added used). */
  function flushPartial(q: Q): boolean {
    const p = q.partial!;
    while (p.off < p.bytes.length) {
      const n = Math.min(p.bytes.length - p.off, ring.maxPiece);
      const at = ring.reserve(n);
      if (at < 0) return false; // the caller publishes what fit, then waits for space
      ring.data.set(p.bytes.subarray(p.off, p.off + n), at);
      p.off += n;
      const last = p.off === p.bytes.length;
      ring.commit(q.dev, q.port, n, last ? RECORD_COMPLETE | 1 : 0);
      q.outstanding += n;
    }
    if (q.log !== undefined) journal.push(p.bytes);
    q.queue!.addUsed(p.head, 0);
    q.partial = null;
    return true;
  }

  /**
   * One transmit pass: pop chains, copy each into the ring, append them to the port's log, publish
   * the ring tail, then publish the used entries (the order that makes "used" imply "logged and
   * handed over"), signal the guest, and only then wake the main thread (its work is off the
   * guest's latency path).
   */
  function serviceTransmit(q: Q): void {
    const queue = q.queue!; // built at start for a transmitq
    let chains = 0;
    let more = false;
    let stalled = 0;
    if (q.partial !== null) {
      if (!flushPartial(q)) stalled = q.partial.bytes.length - q.partial.off;
      else chains++;
    }
    let thrown: unknown = null;
    if (stalled === 0) try {
      queue.disableNotification();
      for (;;) {
        if (q.outstanding >= q.window) break; // wait for credit (backpressure)
        if (!queue.popAvailableInto(raw)) {
          if (queue.enableNotification()) { queue.disableNotification(); continue; }
          break;
        }
        const len = raw.readableBytes;
        checkChainBytes(len, MAX_PORT_CHAIN_BYTES, raw.head); // before any copy is allocated
        const at = len <= ring.maxPiece ? ring.reserve(len) : -1;
        if (at >= 0) {
          raw.copyReadable(ring.data, at);
          if (q.log !== undefined) journal.push(ring.data.subarray(at, at + len));
          ring.commit(q.dev, q.port, len, RECORD_COMPLETE | 1);
          queue.addUsed(raw.head, 0);
          q.outstanding += len;
        } else {
          const bytes = new Uint8Array(len);
          raw.copyReadable(bytes, 0);
          q.partial = { head: raw.head, bytes, off: 0 };
          if (!flushPartial(q)) { stalled = len - q.partial.off; break; }
        }
        if (++chains >= batch) { more = true; break; }
      }
    } catch (e) {
      thrown = e; // a malformed chain: still publish what was handed over before it
    }
    if (journal.length > 0) {
      q.log!.append(journal, Date.now()); // never throws for I/O: a failed log reports and drops
      journal.length = 0;
    }
    const published = ring.publish();
    if (chains > 0) {
      queue.publishUsed();
      if (queue.needsNotification()) q.notify();
    }
    if (published) wakeMain(q);
    if (thrown !== null) throw thrown;
    if (stalled > 0) {
      spaceWaiters.add(q);
      if (ring.waitForSpace(Math.min(stalled, ring.maxPiece))) { spaceWaiters.delete(q); schedule(q); }
    } else if (more) schedule(q);
  }

  /** Watch q's kick eventfd: a kick services q on this thread's loop. */
  function watchKick(q: Q): void {
    q.watch = watchKickFd(ops, q.kickFd, q.index, () => service(q), (e) => fail(q, e));
  }

  /**
   * Build a receiveq on its first host→guest bytes. Nothing was popped from it before (it only
   * pops to deliver bytes), so the start message's ring state is still its state. Its kick watch
   * starts now too: kicks the guest made meanwhile left the eventfd readable (its count stays
   * until read), so a guest that posted buffers before is seen at once.
   */
  function openReceiveq(q: Q): DeviceQueue {
    const queue = new DeviceQueue(q.mem, q.config, { lastAvailIdx: q.startAvailIdx, usedIdx: q.startUsedIdx });
    q.queue = queue;
    watchKick(q);
    return queue;
  }

  function service(q: Q): void {
    if (q.dead) return;
    try {
      if (q.dir === 'transmitq') {
        if (q.outstanding >= q.window && q.partial === null) return; // wait for credit (backpressure)
        serviceTransmit(q);
      } else {
        const src = pending.get(key(q.dev, q.port));
        if (!src || src.empty) return;
        const r = fillReceiveq(q.queue ?? openReceiveq(q), src, q.notify, batch);
        if (r.chains > 0) {
          post({ t: 'wrote', dev: q.dev, port: q.port, bytes: r.bytes, chains: r.chains });
          // Host→guest bytes on this port: the guest's answer (an echo) is interactive; its
          // wake-up is not coalesced.
          const tx = txByPort.get(key(q.dev, q.port));
          if (tx !== undefined) tx.lastWake = -Infinity;
        }
        if (!r.starved && !src.empty) schedule(q);
      }
    } catch (e) {
      fail(q, e);
    }
  }

  function start(m: Extract<ToWorker, { t: 'start' }>): void {
    // Keyed by the table's generation, not its addresses: a front-end re-sends the same layout
    // (stop/start) over new mappings, and the old ones are released (replaced by anonymous memory).
    let mem = memories.get(m.dev);
    if (!mem || mem.gen !== m.memGen) {
      mem = { gen: m.memGen, mem: new GuestMemory(m.regions.map((r) => ({ guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.buffer, offset: r.offset }))) };
      memories.set(m.dev, mem);
    }
    const config: QueueConfig = { ...m.config, indirect: m.config.indirect ?? false };
    const q: Q = {
      dev: m.dev, index: m.index, port: m.port, dir: m.dir,
      queue: m.dir === 'transmitq' ? new DeviceQueue(mem.mem, config, { lastAvailIdx: m.lastAvailIdx, usedIdx: m.usedIdx }) : null,
      mem: mem.mem, config, kickFd: m.kickFd, startAvailIdx: m.lastAvailIdx, startUsedIdx: m.usedIdx,
      notify: callNotifier(ops, m.callFd, m.index), watch: null, outstanding: m.outstanding, window: m.window,
      scheduled: false, dead: false, partial: null, lastWake: -Infinity,
      log: m.dir === 'transmitq' ? logs.get(key(m.dev, m.port)) : undefined,
    };
    queues.set(key(m.dev, m.index), q);
    (m.dir === 'transmitq' ? txByPort : rxByPort).set(key(m.dev, m.port), q);
    // A transmitq is serviced once now: the guest may have posted chains whose kick a dead
    // worker (or a previous daemon) consumed. A receiveq is serviced when bytes wait for it
    // (service returns at once otherwise), which builds it first.
    if (q.queue !== null) watchKick(q);
    service(q);
  }

  return await new Promise<string>((resolve) => {
    port.on('message', (m: ToWorker) => {
      switch (m.t) {
        case 'start': {
          // A bad ring (misaligned, outside memory) or kick fd throws here: that queue is broken
          // (BAD_RING, reported like a ring error), the worker and its other queues go on.
          try {
            start(m);
          } catch (e) {
            post({ t: 'error', dev: m.dev, index: m.index, error: errorToWire(e) });
          }
          break;
        }
        case 'stop': {
          const q = queues.get(key(m.dev, m.index));
          let last = 0;
          if (q) {
            q.dead = true; q.watch?.stop(); q.watch = null;
            // A chain held in pieces is not used: give it back (the main thread drops its pieces),
            // so lastAvailIdx = used.idx as the restart rule says.
            last = ((q.queue?.lastAvailIdx ?? q.startAvailIdx) - (q.partial !== null ? 1 : 0)) & 0xffff;
            spaceWaiters.delete(q);
            queues.delete(key(m.dev, m.index));
            const map = q.dir === 'transmitq' ? txByPort : rxByPort;
            if (map.get(key(m.dev, q.port)) === q) map.delete(key(m.dev, q.port));
          }
          post({ t: 'stopped', req: m.req, lastAvailIdx: last });
          break;
        }
        case 'send': {
          const k = key(m.dev, m.port);
          let b = pending.get(k);
          if (!b) { b = new Backlog(Number.MAX_SAFE_INTEGER); pending.set(k, b); }
          b.push(m.bytes);
          const q = rxByPort.get(k);
          if (q) service(q);
          break;
        }
        case 'credit': {
          const q = txByPort.get(key(m.dev, m.port));
          if (q) {
            const wasBlocked = q.outstanding >= q.window;
            q.outstanding = Math.max(0, q.outstanding - m.bytes);
            if (wasBlocked && q.outstanding < q.window) service(q);
          }
          break;
        }
        case 'space': {
          const waiting = [...spaceWaiters];
          spaceWaiters.clear();
          for (const q of waiting) service(q);
          break;
        }
        case 'log': {
          const k = key(m.dev, m.port);
          logs.get(k)?.close();
          logs.delete(k);
          let error: string | null = null;
          if (m.options !== null) {
            const { dev, port: p } = m;
            try {
              logs.set(k, AppendLog.open(m.options, (err) => post({ t: 'logFailed', dev, port: p, message: err.message })));
            } catch (e) {
              error = (e as Error).message;
            }
          }
          const tx = txByPort.get(k);
          if (tx !== undefined) tx.log = logs.get(k);
          if (m.req !== 0) post({ t: 'logged', req: m.req, error });
          else if (error !== null) post({ t: 'logFailed', dev: m.dev, port: m.port, message: error }); // a replay after a restart
          break;
        }
        case 'append':
          logs.get(key(m.dev, m.port))?.append([m.bytes], m.at);
          break;
        case 'forget': {
          for (const [k, log] of logs) if (k.startsWith(`${m.dev}:`)) { log.close(); logs.delete(k); }
          for (const q of queues.values()) if (q.dev === m.dev) q.log = undefined;
          memories.delete(m.dev);
          for (const k of [...pending.keys()]) if (k.startsWith(`${m.dev}:`)) pending.delete(k);
          break;
        }
        case 'stall': {
          const end = Date.now() + m.ms;
          while (Date.now() < end) { /* a hung worker (test hook) */ }
          break;
        }
        case 'die':
          setImmediate(() => { throw new Error('injected worker death (test hook)'); });
          break;
        case 'shutdown':
          if (wakeTimer !== null) clearTimeout(wakeTimer);
          for (const q of queues.values()) { q.dead = true; q.watch?.stop(); }
          queues.clear();
          for (const log of logs.values()) log.close(); // fsync: a clean shutdown is durable on disk
          logs.clear();
          port.close();
          resolve('shutdown');
          break;
      }
    });
    post({ t: 'ready' });
  });
}
