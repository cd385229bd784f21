// The addon across threads: a mmapShared SAB posted to a Worker (Atomics on one mapping), and
// watchFd on the main thread's loop and inside worker_threads (with cleanup at worker exit).
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import {
  close, eventfdCreate, eventfdRead, eventfdWrite, ftruncate, memfdCreate, mmapShared, nativeAddonPath,
  releaseMapping, socketPair, watchFd,
} from './native.js';

const fixture = new URL('./native.worker-fixture.mjs', import.meta.url);

function message<T>(worker: Worker): Promise<T> {
  return once(worker, 'message').then(([m]) => m as T);
}

describe('SharedArrayBuffer over a mapping, across threads', () => {
  it('posts to a Worker; Atomics.add and wait/notify work across threads on the same mapping', async () => {
    const fd = memfdCreate('vtcon-test-threads');
    ftruncate(fd, 4096);
    const sab = mmapShared(fd, 4096);
    const counters = new Int32Array(sab);
    const worker = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      const a = new Int32Array(workerData.sab);
      Atomics.wait(a, 2, 0, 10000);            // until the main thread says go
      for (let i = 0; i < 100000; i++) Atomics.add(a, 0, 1);
      parentPort.postMessage('done');
    `, { eval: true, workerData: { sab } });
    Atomics.store(counters, 2, 1);
    Atomics.notify(counters, 2);
    for (let i = 0; i < 100000; i++) Atomics.add(counters, 0, 1);
    await message(worker);
    expect(Atomics.load(counters, 0)).toBe(200000);
    // the memory really is the file: a fresh mapping sees the count
    const check = mmapShared(fd, 4096);
    expect(new Int32Array(check)[0]).toBe(200000);
    await worker.terminate();
    releaseMapping(sab);
    releaseMapping(check);
    close(fd);
  });
});

describe('watchFd', () => {
  it('a throwing callback goes to onError once and stops the watch: never an uncaught exception', async () => {
    const fd = eventfdCreate();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => { uncaught.push(e); };
    process.on('uncaughtException', onUncaught);
    let calls = 0;
    const errors: unknown[] = [];
    try {
      // Level-triggered and never consumed: a watch that kept running would fire again at once.
      watchFd(fd, 'readable', () => { calls++; throw new Error('callback failed'); }, (e) => errors.push(e));
      eventfdWrite(fd, 1);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
      close(fd);
    }
    expect(uncaught).toEqual([]);
    expect(calls).toBe(1);
    expect(errors.map((e) => (e as Error).message)).toEqual(['callback failed']);
  });

  it('without onError a throwing callback becomes a process warning, not an uncaught exception', async () => {
    const fd = eventfdCreate();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => { uncaught.push(e); };
    process.on('uncaughtException', onUncaught);
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    try {
      watchFd(fd, 'readable', () => { throw new Error('no handler'); });
      eventfdWrite(fd, 1);
      const w = await warned;
      expect(w.message).toBe('watchFd callback threw: no handler');
      expect((w as Error & { code?: string }).code).toBe('VTCON_WATCH_CALLBACK_THREW');
    } finally {
      process.off('uncaughtException', onUncaught);
      close(fd);
    }
    expect(uncaught).toEqual([]);
  });

  it('fires on readability on the main thread; stop() is idempotent', async () => {
    const fd = eventfdCreate();
    const fired = new Promise<[boolean, boolean, number]>((resolve) => {
      const watch = watchFd(fd, 'readable', (readable, writable) => {
        const value = eventfdRead(fd);
        watch.stop();
        watch.stop();
        resolve([readable, writable, value]);
      });
    });
    eventfdWrite(fd, 3);
    expect(await fired).toEqual([true, false, 3]);
    close(fd);
  });

  it('reports writability of a socket', async () => {
    const [a, b] = socketPair();
    const flags = await new Promise<[boolean, boolean]>((resolve) => {
      const watch = watchFd(a, 'both', (readable, writable) => {
        watch.stop();
        resolve([readable, writable]);
      });
    });
    expect(flags).toEqual([false, true]);
    close(a);
    close(b);
  });

  it('stop() after the fd was closed is safe, and the fd number can be watched again', async () => {
    const fd = eventfdCreate();
    let stale = 0;
    const watch = watchFd(fd, 'readable', () => { stale++; });
    await new Promise((r) => setImmediate(r)); // let libuv register the fd with epoll
    close(fd);
    watch.stop();
    watch.stop();
    // The kernel hands out the lowest free number: usually the same fd again. A watch on it
    // fires for its own event, and the stopped watch's callback never runs.
    const again = eventfdCreate();
    try {
      const fired = new Promise<number>((resolve) => {
        const w = watchFd(again, 'readable', () => { w.stop(); resolve(eventfdRead(again)); });
      });
      eventfdWrite(again, 5);
      expect(await fired).toBe(5);
      expect(stale).toBe(0);
    } finally {
      close(again);
    }
  });

  it('fires inside a worker_threads Worker on that worker\'s loop', async () => {
    const fd = eventfdCreate();
    const worker = new Worker(fixture, { workerData: { addonPath: nativeAddonPath(), fd, mode: 'watch-once' } });
    // listen now: the worker may exit in the same turn its last message is delivered
    const exited = once(worker, 'exit');
    expect(await message(worker)).toEqual({ ready: true });
    eventfdWrite(fd, 7);
    expect(await message(worker)).toEqual({ fired: true, readable: true, value: 7 });
    // the worker's only handle was stopped, so it exits on its own
    const [code] = await exited;
    expect(code).toBe(0);
    close(fd);
  });

  it('the raw addon FdWatch (under native.ts\'s guard): a throwing callback becomes uncaughtException on its thread', async () => {
    const fd = eventfdCreate();
    const worker = new Worker(fixture, { workerData: { addonPath: nativeAddonPath(), fd, mode: 'throw' } });
    expect(await message(worker)).toEqual({ ready: true });
    eventfdWrite(fd, 1);
    expect(await message(worker)).toEqual({ uncaught: 'boom from watch callback' });
    await worker.terminate();
    close(fd);
  });

  it('a worker terminated with an active watch is cleaned up; the process carries on', async () => {
    const fd = eventfdCreate();
    const worker = new Worker(fixture, { workerData: { addonPath: nativeAddonPath(), fd, mode: 'leave-active' } });
    expect(await message(worker)).toEqual({ ready: true });
    await worker.terminate();
    eventfdWrite(fd, 1); // no watcher of a dead worker may run now
    await new Promise((r) => setImmediate(r));
    expect(eventfdRead(fd)).toBe(1);
    close(fd);
  });
});

describe('piscina workers', () => {
  it('watchFd and a mapped SAB work inside piscina pool threads', async () => {
    const pool = new Piscina({ filename: new URL('./native.piscina-fixture.mjs', import.meta.url).href, minThreads: 2, maxThreads: 2 });
    const memfd = memfdCreate('vtcon-test-piscina');
    ftruncate(memfd, 4096);
    const sab = mmapShared(memfd, 4096);
    const fds = [eventfdCreate(), eventfdCreate()];
    const results = fds.map((fd) => pool.run({ addonPath: nativeAddonPath(), fd, sab, mode: 'await' }));
    eventfdWrite(fds[0]!, 2);
    eventfdWrite(fds[1]!, 5);
    expect(await Promise.all(results)).toEqual([2, 5]);
    expect(Atomics.load(new Int32Array(sab), 0)).toBe(7);
    await pool.destroy();
    releaseMapping(sab);
    for (const fd of [...fds, memfd]) close(fd);
  });

  it('a watch armed by a finished task keeps firing in a pool with atomics: \'async\'', async () => {
    const pool = new Piscina({ filename: new URL('./native.piscina-fixture.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, atomics: 'async' });
    const fd = eventfdCreate();
    const ack = eventfdCreate();
    expect(await pool.run({ addonPath: nativeAddonPath(), fd, ack, mode: 'arm' })).toBe('armed');
    const acked = new Promise<number>((resolve) => {
      const watch = watchFd(ack, 'readable', () => {
        watch.stop();
        resolve(eventfdRead(ack));
      });
    });
    eventfdWrite(fd, 9); // the pool thread is idle now: only its event loop can see this
    expect(await acked).toBe(9);
    await pool.destroy();
    close(fd);
    close(ack);
  });
});
