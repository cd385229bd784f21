/**
 * Waiting for used entries on the queues the seed polls (the control transmitq, each port's
 * transmitq), woken by the queue's call eventfd (VtconDriver's threading note).
 */
import type { DriverQueue } from '@vtcon/ring';
import { ConsoleError } from '../errors.js';
import type { DriverQueueBinding } from './virtio-handle.js';

/**
 * Sleep until the queue's used-buffer interrupt (call eventfd), `wake` (teardown), or the
 * starvation deadline. Interrupt-driven like the seed's vtcon_vq_intr: there is no periodic poll.
 * Callers first re-enable callbacks and re-check "more pending" (virtqueue_enable_intr), and the
 * watch is registered synchronously after that check on this single thread, so a used entry
 * published between the check and the sleep still signals the call eventfd (the device reads
 * used_event / flags after publishing used.idx) and wakes us. The deadline timer is the
 * QUEUE_STARVED bound (pollTimeoutMs), not a poll: it fires only if the device stops answering.
 */
function sleepForCall(vq: DriverQueueBinding, deadline: number, wakers: Set<() => void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, Math.max(0, deadline - Date.now()) + 1);
    const w = vq.watchCall(done);
    wakers.add(done);
    function done(): void { clearTimeout(t); w.stop(); wakers.delete(done); resolve(); }
  });
}

/** Collect used transmit buffers into `free`, sleeping on the call eventfd until one arrives. */
export async function reclaimUsed(vq: DriverQueueBinding, free: number[], timeoutMs: number, abort: () => boolean, wakers: Set<() => void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let got = 0;
    for (;;) {
      const u = vq.queue.getUsed();
      if (u === null) break;
      free.push(u.token as number);
      got++;
    }
    if (got > 0 || abort()) return;
    if (Date.now() > deadline) throw new ConsoleError('QUEUE_STARVED', `no used entry on queue ${vq.index} after ${timeoutMs} ms`, { scope: 'queue' });
    if (vq.queue.enableCallbacks()) continue; // more pending: raced in while callbacks were stale
    await sleepForCall(vq, deadline, wakers);
  }
}

/** Await one used entry on a queue the seed polls (control transmitq), sleeping on the call eventfd. */
export async function waitUsed(vq: DriverQueueBinding, timeoutMs: number, abort: () => boolean, wakers: Set<() => void>): Promise<void> {
  const q: DriverQueue = vq.queue;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (q.getUsed() !== null) return;
    if (abort()) return;
    if (Date.now() > deadline) throw new ConsoleError('QUEUE_STARVED', `no used entry on queue ${vq.index} after ${timeoutMs} ms`, { scope: 'queue' });
    if (q.enableCallbacks()) continue; // more pending: re-check instead of sleeping on a call that may not come
    await sleepForCall(vq, deadline, wakers);
  }
}
