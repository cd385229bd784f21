/**
 * The long-lived piscina task that services a shard of port queues on a worker thread.
 *
 * Why long-lived: a piscina round trip costs ~57 µs here, so a task per kick would cap a port at
 * ~17k kicks/s. Instead one task per worker runs until shutdown; it watches its queues' kick
 * eventfds with the addon's uv_poll on this worker's own event loop, processes rings in batches
 * and writes call eventfds — the main thread is not on the per-kick path. Guest→host bytes go
 * to the main thread (which owns the sinks) as transferred buffers, under a credit window per
 * port so a slow sink holds the guest back instead of growing memory.
 *
 * Loaded from dist/ (JS) by piscina. Thread contract: only this worker touches its queues'
 * rings while they are started here.
 */
import type { MessagePort } from 'node:worker_threads';
import { DeviceQueue, GuestMemory } from '@vtcon/ring';
import { drainTransmitq } from '../port/transmit.js';
import { fillReceiveq } from '../port/receive.js';
import { Backlog } from '../port/backlog.js';
import type { FromWorker, ShardTaskData, ToWorker } from './protocol.js';

interface EventfdOps {
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): void;
  watchFd(fd: number, events: 'readable', cb: () => void): { stop(): void };
}

interface Q {
  dev: number; index: number; port: number; dir: 'receiveq' | 'transmitq';
  queue: DeviceQueue; callFd: number; watch: { stop(): void } | null;
  /** transmitq: bytes posted to main not yet credited back. */
  outstanding: number; window: number;
  scheduled: boolean; dead: boolean;
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
  const memories = new Map<number, { key: string; mem: GuestMemory }>();
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer ?? []);
  const key = (dev: number, n: number): string => `${dev}:${n}`;

  function fail(q: Q, e: unknown): void {
    q.dead = true;
    q.watch?.stop(); q.watch = null;
    const err = e as { reason?: string; message?: string };
    post({ t: 'error', dev: q.dev, index: q.index, reason: err.reason ?? 'WORKER_FAILED', message: err.message ?? String(e) });
  }

  function schedule(q: Q): void {
    if (q.scheduled) return;
    q.scheduled = true;
    setImmediate(() => { q.scheduled = false; service(q); });
  }

  function service(q: Q): void {
    if (q.dead) return;
    try {
      if (q.dir === 'transmitq') {
        if (q.outstanding >= q.window) return; // wait for credit (backpressure)
        const b = drainTransmitq(q.queue, () => ops.eventfdWrite(q.callFd, 1), batch, (t) => {
          q.outstanding += t.bytes.length;
          const bytes = t.bytes.byteOffset === 0 && t.bytes.byteLength === t.bytes.buffer.byteLength ? t.bytes : t.bytes.slice();
          post({ t: 'rx', dev: q.dev, port: q.port, bytes, chains: t.chains }, [bytes.buffer as ArrayBuffer]);
        });
        if (b.more) schedule(q);
      } else {
        const src = pending.get(key(q.dev, q.port));
        if (!src || src.empty) return;
        const r = fillReceiveq(q.queue, src, () => ops.eventfdWrite(q.callFd, 1), batch);
        if (r.chains > 0) post({ t: 'wrote', dev: q.dev, port: q.port, bytes: r.bytes, chains: r.chains });
        if (!r.starved && !src.empty) schedule(q);
      }
    } catch (e) {
      fail(q, e);
    }
  }

  return await new Promise<string>((resolve) => {
    port.on('message', (m: ToWorker) => {
      switch (m.t) {
        case 'start': {
          const memKey = m.regions.map((r) => `${r.guestPhysAddr}/${r.size}`).join(',');
          let mem = memories.get(m.dev);
          if (!mem || mem.key !== memKey) {
            mem = { key: memKey, mem: new GuestMemory(m.regions.map((r) => ({ guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.buffer, offset: r.offset }))) };
            memories.set(m.dev, mem);
          }
          const q: Q = {
            dev: m.dev, index: m.index, port: m.port, dir: m.dir,
            queue: new DeviceQueue(mem.mem, { ...m.config, indirect: m.config.indirect ?? false }, { lastAvailIdx: m.lastAvailIdx, usedIdx: m.usedIdx }),
            callFd: m.callFd, watch: null, outstanding: m.outstanding, window: m.window, scheduled: false, dead: false,
          };
          queues.set(key(m.dev, m.index), q);
          (m.dir === 'transmitq' ? txByPort : rxByPort).set(key(m.dev, m.port), q);
          if (m.kickFd >= 0) {
            const fd = m.kickFd;
            q.watch = ops.watchFd(fd, 'readable', () => { ops.eventfdRead(fd); service(q); });
          }
          service(q);
          break;
        }
        case 'stop': {
          const q = queues.get(key(m.dev, m.index));
          let last = 0;
          if (q) {
            q.dead = true; q.watch?.stop(); q.watch = null;
            last = q.queue.lastAvailIdx;
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
        case 'forget': {
          memories.delete(m.dev);
          for (const k of [...pending.keys()]) if (k.startsWith(`${m.dev}:`)) pending.delete(k);
          break;
        }
        case 'die':
          setImmediate(() => { throw new Error('injected worker death (test hook)'); });
          break;
        case 'shutdown':
          for (const q of queues.values()) { q.dead = true; q.watch?.stop(); }
          queues.clear();
          port.close();
          resolve('shutdown');
          break;
      }
    });
    post({ t: 'ready' });
  });
}
