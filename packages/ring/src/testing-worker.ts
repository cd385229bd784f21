/**
 * Device-side worker for the two-thread ring test (and anyone who wants a
 * real cross-thread peer): builds a DeviceQueue over the SharedArrayBuffer it
 * is given, and for each chain writes a u32 checksum of the readable bytes
 * into the first 4 writable bytes. Notifications are Atomics doorbells in
 * `control`: [0] kick counter (driver → device), [1] call counter
 * (device → driver). Tests load this source through scripts/lib/ts-hooks.mjs;
 * others load dist/testing-worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RawChain } from './chain.js';
import { DeviceQueue } from './device-queue.js';
import { GuestMemory } from './guest-memory.js';
import type { QueueConfig } from './layout.js';

export interface ChecksumWorkerData {
  buffer: SharedArrayBuffer;
  guestPhysAddr: number;
  config: QueueConfig;
  chains: number;
  control: SharedArrayBuffer;
}

/** The checksum both sides compute: h = h * 31 + byte (mod 2^32). */
export function checksum(bytes: Uint8Array, start: number, len: number): number {
  let h = 0;
  for (let i = 0; i < len; i++) h = (Math.imul(h, 31) + bytes[start + i]!) >>> 0;
  return h;
}

function serve(d: ChecksumWorkerData): { total: number; sum: number } {
  const memory = new GuestMemory([{ guestPhysAddr: d.guestPhysAddr, size: d.buffer.byteLength, buffer: d.buffer }]);
  const dev = new DeviceQueue(memory, d.config);
  const ctl = new Int32Array(d.control);
  const chain = new RawChain();
  let total = 0;
  let sum = 0;
  while (total < d.chains) {
    dev.disableNotification();
    while (dev.popAvailableInto(chain)) {
      let h = 0;
      for (let s = 0; s < chain.readableCount; s++) h = (h + checksum(chain.regions[s]!.bytes, chain.offsets[s]!, chain.lengths[s]!)) >>> 0;
      const w = chain.readableCount;
      new DataView(chain.regions[w]!.buffer, chain.regions[w]!.offset + chain.offsets[w]!, 4).setUint32(0, h, true);
      dev.addUsed(chain.head, 4);
      sum = (sum + h) % 2 ** 32;
      total++;
    }
    if (dev.needsNotification()) {
      Atomics.add(ctl, 1, 1);
      Atomics.notify(ctl, 1);
    }
    // Load the doorbell before re-enabling kicks: a kick after this load changes it and wait returns at once.
    const kicks = Atomics.load(ctl, 0);
    if (total < d.chains && !dev.enableNotification()) Atomics.wait(ctl, 0, kicks, 1000);
  }
  return { total, sum };
}

if (parentPort !== null && workerData !== null) {
  try {
    parentPort.postMessage({ type: 'done', ...serve(workerData as ChecksumWorkerData) });
  } catch (e) {
    parentPort.postMessage({ type: 'error', reason: (e as { reason?: string }).reason ?? 'UNKNOWN', message: String(e) });
  }
}
