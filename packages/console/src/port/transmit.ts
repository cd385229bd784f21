/**
 * Guest→host servicing of one transmitq (the guest's "out" queue).
 *
 * Latency rule: a Linux hvc writer spins until its buffer is used, so each chain's bytes
 * are copied out of guest memory and the chain is marked used *before* anything is handed to a
 * sink, and the driver is signalled once per batch.
 * Durability rule: when the port has a log, the batch is appended to it (write(2), so it survives
 * a crash of the daemon) between the copy and the publication of the used entries. "Used" then
 * means "in the log".
 * Caller: whichever thread owns the queue (main thread or one worker); never two at once.
 */
import type { DeviceQueueLike } from './queue.js';
import { checkChainBytes, MAX_PORT_CHAIN_BYTES } from './chain-bound.js';

/** Where a batch goes before its chains are published used: the port's log (AppendLog). */
export interface TransmitJournal {
  append(parts: readonly Uint8Array[], at: number): void;
}

export interface TransmitBatch {
  /** Bytes of every chain in the batch, concatenated (a copy; guest memory may change). */
  bytes: Uint8Array;
  chains: number;
  /** true if the ring may still hold chains (batch limit hit): call again. */
  more: boolean;
  /** A malformed chain ended the batch (the queue is broken); the chains before it are in `bytes`. */
  error: unknown;
}

/**
 * Pop up to maxChains chains, copy each one's readable bytes (one copy per chain: guest memory may
 * change once the chain is used), and add each used with len 0 (the device wrote nothing into
 * it) without publishing: the caller calls publishUsed(). Re-enables notifications when the ring
 * runs dry, re-polling if a chain raced in (enableNotification()). Does not signal the driver.
 * Shared by the port transmitqs and the control transmitq, whose chains are one message each.
 * A chain of more than maxChainBytes readable bytes ends the batch like a malformed one
 * (CHAIN_TOO_BIG), without allocating its copy.
 */
export function popReadableChains(q: DeviceQueueLike, maxChains: number, maxChainBytes: number): { copies: Uint8Array[]; more: boolean; error: unknown } {
  const copies: Uint8Array[] = [];
  q.disableNotification();
  for (;;) {
    let chain;
    try {
      chain = q.popAvailable();
      // Before the copy is allocated: the chain's size is the guest's (chain-bound.ts).
      if (chain !== null) checkChainBytes(chain.readableBytes, maxChainBytes, chain.head);
    } catch (error) {
      // A malformed chain: the chains before it were copied and added used; hand them on.
      return { copies, more: false, error };
    }
    if (chain === null) {
      if (q.enableNotification()) { q.disableNotification(); continue; }
      return { copies, more: false, error: null };
    }
    const copy = new Uint8Array(chain.readableBytes);
    let off = 0;
    for (const seg of chain.readable) { copy.set(seg, off); off += seg.length; }
    q.addUsed(chain.head, 0);
    copies.push(copy);
    if (copies.length >= maxChains) return { copies, more: true, error: null };
  }
}

/**
 * Drain a transmitq: popReadableChains, append the batch to the journal (if any), publish the used
 * entries, notify if the driver asked (EVENT_IDX/NO_INTERRUPT), and return the bytes concatenated.
 * A malformed chain throws after the chains before it were journaled and published.
 */
export function drainTransmitq(q: DeviceQueueLike, notify: () => void, maxChains = 256, journal?: TransmitJournal, maxChainBytes = MAX_PORT_CHAIN_BYTES): TransmitBatch {
  const { copies, more, error } = popReadableChains(q, maxChains, maxChainBytes);
  if (copies.length > 0) journal?.append(copies, Date.now());
  q.publishUsed();
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
  return { bytes, chains: copies.length, more, error };
}
