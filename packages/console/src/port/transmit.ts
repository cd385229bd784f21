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

/** Copy the readable part of a chain into dst at off. */
function copyReadable(readable: Uint8Array[], dst: Uint8Array, off: number): number {
  for (const seg of readable) { dst.set(seg, off); off += seg.length; }
  return off;
}

/**
 * Pop up to maxChains transmit chains, copy their bytes, push them used with len 0 (the device
 * wrote nothing into them), and notify if the driver asked (EVENT_IDX/NO_INTERRUPT). Re-enables
 * notifications when the ring runs dry, re-polling if a chain raced in (enableNotification()).
 */
export function drainTransmitq(q: DeviceQueueLike, notify: () => void, maxChains = 256, handOff?: (batch: TransmitBatch) => void): TransmitBatch {
  // With handOff (worker servicing): used entries are written but published only after the
  // copied bytes were handed off, so a thread dying mid-batch leaves the chains unused (the
  // device sees them again after restart) instead of losing their bytes.
  const deferred = handOff !== undefined && q.addUsed !== undefined && q.publishUsed !== undefined;
  const parts: Uint8Array[] = [];
  let total = 0;
  let chains = 0;
  let more = false;
  q.disableNotification();
  for (;;) {
    const chain = q.popAvailable();
    if (chain === null) {
      if (q.enableNotification()) { q.disableNotification(); continue; }
      break;
    }
    const copy = new Uint8Array(chain.readableBytes);
    copyReadable(chain.readable, copy, 0);
    if (deferred) q.addUsed!(chain.head, 0); else q.pushUsed(chain.head, 0);
    parts.push(copy);
    total += copy.length;
    chains++;
    if (chains >= maxChains) { more = true; break; }
  }
  let bytes: Uint8Array;
  if (parts.length === 1) bytes = parts[0]!;
  else {
    bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { bytes.set(p, off); off += p.length; }
  }
  const batch = { bytes, chains, more };
  if (chains > 0 && handOff) handOff(batch);
  if (deferred) q.publishUsed!();
  if (chains > 0 && q.needsNotification()) notify();
  return batch;
}
