/**
 * Guest→host servicing of one transmitq (the guest's "out" queue).
 *
 * Latency rule (issue 4): a Linux hvc writer spins until its buffer is used, so each chain's bytes
 * are copied out of guest memory and the chain is pushed used *before* anything is handed to a
 * sink, and the driver is signalled once per batch. Caller: whichever thread owns the queue
 * (main thread or one worker); never two at once.
 */
import type { DeviceQueueLike } from './queue.js';

export interface TransmitBatch {
  /** Bytes of every chain in the batch, concatenated (a copy; guest memory may change). */
  bytes: Uint8Array;
  chains: number;
  /** true if the ring may still hold chains (batch limit hit): call again. */
  more: boolean;
}

/**
 * Pop up to maxChains chains, copy each one's readable bytes (one copy per chain: guest memory may
 * change once the chain is used), and push each used with len 0 (the device wrote nothing into
 * it). Re-enables notifications when the ring runs dry, re-polling if a chain raced in
 * (enableNotification()). Does not signal the driver: the caller does, once per batch.
 * Shared by the port transmitqs and the control transmitq, whose chains are one message each.
 */
export function popReadableChains(q: DeviceQueueLike, maxChains: number): { copies: Uint8Array[]; more: boolean } {
  const copies: Uint8Array[] = [];
  q.disableNotification();
  for (;;) {
    const chain = q.popAvailable();
    if (chain === null) {
      if (q.enableNotification()) { q.disableNotification(); continue; }
      return { copies, more: false };
    }
    const copy = new Uint8Array(chain.readableBytes);
    let off = 0;
    for (const seg of chain.readable) { copy.set(seg, off); off += seg.length; }
    q.pushUsed(chain.head, 0);
    copies.push(copy);
    if (copies.length >= maxChains) return { copies, more: true };
  }
}

/**
 * Drain a transmitq: popReadableChains, then the bytes of the batch concatenated, and notify if
 * the driver asked (EVENT_IDX/NO_INTERRUPT).
 */
export function drainTransmitq(q: DeviceQueueLike, notify: () => void, maxChains = 256): TransmitBatch {
  const { copies, more } = popReadableChains(q, maxChains);
  let bytes: Uint8Array;
  if (copies.length === 1) bytes = copies[0]!;
  else {
    let total = 0;
    for (const c of copies) total += c.length;
    bytes = new Uint8Array(total);
    let off = 0;
    for (const c of copies) { bytes.set(c, off); off += c.length; }
  }
  if (copies.length > 0 && q.needsNotification()) notify();
  return { bytes, chains: copies.length, more };
}
