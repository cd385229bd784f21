/**
 * ConsoleError across threads: structuredClone / postMessage drop an Error's class and own fields,
 * so isConsoleError must say no to the clone, and toWire()/fromWire() must keep the class, reason,
 * scope and the cause chain (a VirtqueueError cause keeps its name and reason).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { isVirtqueueError, VirtqueueError } from '@vtcon/ring';
import { ConsoleError, errorFromWire, errorToWire, isConsoleError, type ErrorWire } from './errors.js';

const broken = (): ConsoleError => new ConsoleError('QUEUE_BROKEN', 'queue 5 stopped: RING_MISALIGNED: descriptor table at 0x10002', {
  scope: 'queue', cause: new VirtqueueError('RING_MISALIGNED', 'descriptor table at 0x10002 is not 16-byte aligned'),
});

function checkRebuilt(e: ConsoleError): void {
  expect(isConsoleError(e)).toBe(true);
  expect(e).toMatchObject({ name: 'ConsoleError', reason: 'QUEUE_BROKEN', scope: 'queue' });
  expect(e.message).toBe('QUEUE_BROKEN: queue 5 stopped: RING_MISALIGNED: descriptor table at 0x10002'); // no doubled reason
  expect(isVirtqueueError(e.cause)).toBe(true);
  expect(e.cause).toMatchObject({ reason: 'RING_MISALIGNED', message: 'RING_MISALIGNED: descriptor table at 0x10002 is not 16-byte aligned' });
}

describe('ConsoleError across threads', () => {
  it('a structured clone is not a ConsoleError any more (isConsoleError says so)', () => {
    const e = broken();
    expect(isConsoleError(e)).toBe(true);
    expect(isConsoleError(structuredClone(e))).toBe(false);
  });

  it('toWire → structuredClone → fromWire keeps class, reason, scope and the cause chain', () => {
    checkRebuilt(ConsoleError.fromWire(structuredClone(broken().toWire())));
  });

  it('toWire → a real worker postMessage → fromWire keeps them too', async () => {
    // The worker echoes what it gets: the message crosses two thread boundaries.
    const w = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
    try {
      const back = await new Promise<ErrorWire>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); w.postMessage(broken().toWire()); });
      checkRebuilt(ConsoleError.fromWire(back));
    } finally {
      await w.terminate();
    }
  });

  it('another layer\'s error becomes the cause of a fallback reason; a plain value survives too', () => {
    const v = ConsoleError.fromWire(errorToWire(new VirtqueueError('CHAIN_TOO_LONG', 'loop')), 'WORKER_FAILED', 'queue');
    expect(v).toMatchObject({ reason: 'WORKER_FAILED', scope: 'queue' });
    expect(v.cause).toMatchObject({ name: 'VirtqueueError', reason: 'CHAIN_TOO_LONG' });
    expect(errorFromWire(errorToWire('boom'))).toMatchObject({ name: 'Error', message: 'boom' });
    // A reason this copy does not know is not trusted as a ConsoleError.
    expect(isConsoleError(errorFromWire({ name: 'ConsoleError', reason: 'NOT_A_REASON', scope: 'queue', message: 'x' }))).toBe(false);
  });
});
