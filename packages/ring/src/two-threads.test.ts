/**
 * Two threads for real: the driver runs here, the device in a worker_threads
 * Worker (testing-worker.ts, the source, through the repo's TypeScript hooks in
 * scripts/lib/ts-hooks.mjs), on one SharedArrayBuffer, with Atomics doorbells as kick/call.
 * 1e6 chains; per-chain and total checksums must match.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DriverQueue } from './driver-queue.js';
import { BufferPool, makeTestQueue } from './testing.js';
import { checksum } from './testing-worker.js';

const CHAINS = 1_000_000;
const HOOKS = new URL('../../../scripts/lib/ts-hooks.mjs', import.meta.url).href;
const ENTRY = new URL('./testing-worker.ts', import.meta.url).href;
/** A worker running testing-worker.ts itself: vitest transforms only this thread. */
const DEVICE_WORKER = `require('node:module').register(${JSON.stringify(HOOKS)}); import(${JSON.stringify(ENTRY)});`;
const SIZE = 256;
const PAYLOAD = 16;

describe('driver thread + device worker on one SharedArrayBuffer', () => {
  for (const eventIdx of [false, true]) {
    it(`${CHAINS} chains, checksums match (eventIdx=${eventIdx})`, async () => {
      const t = makeTestQueue({ size: SIZE, eventIdx, bytes: 1 << 20 });
      const slots = SIZE / 2; // two descriptors per chain
      const pool = new BufferPool(t.alloc.alloc(32 * slots, 32), slots, 32);
      const region = t.memory.regions[0]!;
      const bytes = region.bytes;
      const dv = new DataView(region.buffer, region.offset, region.size);
      const control = new SharedArrayBuffer(8);
      const ctl = new Int32Array(control);
      const worker = new Worker(DEVICE_WORKER, {
        eval: true,
        workerData: { buffer: region.buffer, guestPhysAddr: region.guestPhysAddr, config: t.config, chains: CHAINS, control },
      });
      const result = new Promise<{ type: string; total: number; sum: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      try {
        const drv = new DriverQueue(t.memory, t.config);
        const expected = new Map<number, number>();
        let x = 0x1234567;
        let sent = 0;
        let completed = 0;
        let sumSent = 0;
        let mismatches = 0;
        const deadline = Date.now() + 60_000;
        while (completed < CHAINS && Date.now() < deadline) {
          let addr: number | null;
          while (sent < CHAINS && (addr = pool.alloc()) !== null) {
            const off = addr - region.guestPhysAddr;
            for (let i = 0; i < PAYLOAD; i++) {
              x ^= x << 13;
              x ^= x >>> 17;
              x ^= x << 5;
              bytes[off + i] = x & 0xff;
            }
            const h = checksum(bytes, off, PAYLOAD);
            expected.set(addr, h);
            sumSent = (sumSent + h) % 2 ** 32;
            drv.addChain([{ addr, len: PAYLOAD }], [{ addr: addr + PAYLOAD, len: 4 }], addr);
            sent++;
            if (sent % 16 === 0 && drv.kickPrepare()) {
              Atomics.add(ctl, 0, 1);
              Atomics.notify(ctl, 0);
            }
          }
          if (drv.kickPrepare()) {
            Atomics.add(ctl, 0, 1);
            Atomics.notify(ctl, 0);
          }
          let got = 0;
          let u;
          while ((u = drv.getUsed()) !== null) {
            const a = u.token as number;
            if (u.len !== 4 || dv.getUint32(a - region.guestPhysAddr + PAYLOAD, true) !== expected.get(a)) mismatches++;
            pool.free(a);
            completed++;
            got++;
          }
          if (got === 0) {
            // Nothing to do: sleep until the device calls (doorbell loaded before the re-check).
            const calls = Atomics.load(ctl, 1);
            if (!drv.enableCallbacks()) Atomics.wait(ctl, 1, calls, 1000);
            drv.disableCallbacks();
          }
        }
        const r = await result;
        expect(r.type).toBe('done');
        expect(completed).toBe(CHAINS);
        expect(mismatches).toBe(0);
        expect(r.total).toBe(CHAINS);
        expect(r.sum).toBe(sumSent);
      } finally {
        await worker.terminate();
      }
    });
  }
});
