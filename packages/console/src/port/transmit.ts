/**
 * Guest→host servicing of one transmitq (the guest's "out" queue): the one transmit pass of the
 * inline engine, the control transmitq and the workers.
 *
 * Latency rule: a Linux hvc writer spins until its buffer is used, so each chain's bytes
 * are copied out of guest memory and the chain is marked used *before* anything is handed to a
 * sink, and the driver is signalled once per batch.
 * Durability rule: when the port has a log, the batch is appended to it (write(2), so it survives
 * a crash of the daemon) between the copy and the publication of the used entries. "Used" then
 * means "in the log".
 * Caller: whichever thread owns the queue (main thread or one worker); never two at once.
 */
import { RawChain } from '@vtcon/ring';
import type { DeviceQueueLike } from './queue.js';
import { checkChainBytes, MAX_PASS_DESCRIPTORS, MAX_PORT_CHAIN_BYTES } from './chain-bound.js';

/** Where a batch goes before its chains are published used: the port's log (AppendLog). */
export interface TransmitJournal {
  append(parts: readonly Uint8Array[], at: number): void;
  /** The pass published used entries up to `usedIdx`: what is in the log now is theirs (resume record). */
  committed?(usedIdx: number): void;
}

/**
 * Where a pass copies each chain's readable bytes (a copy: guest memory may change once the chain
 * is used). The main thread allocates one copy per chain (CopyTarget); a worker copies into its
 * shard's byte ring (worker/ring-target.ts), allocating nothing.
 */
export interface TransmitTarget {
  /**
   * Called first: finish a chain take() held in an earlier pass. Its head once all of it is out
   * (it is used first in this pass), 'waiting' while it still cannot be (the pass pops nothing),
   * null when none is held. Pushes its bytes onto `logged` like take().
   */
  resumeHeld?(logged: Uint8Array[] | null): number | 'waiting' | null;
  /** Checked before each pop: false ends the batch (out of credit). */
  ready?(): boolean;
  /**
   * Copy out the chain's `len` readable bytes (within the queue's bound) and, when the port has a
   * log, push the copy (valid until the pass returns) onto `logged`. false: the target holds the
   * chain, not used yet (resumeHeld() finishes it), and the batch ends.
   */
  take(chain: RawChain, len: number, logged: Uint8Array[] | null): boolean;
  /** After the batch is logged, before its chains are published used: hand its bytes over. */
  handOver?(): void;
}

export interface TransmitPassResult {
  /** Chains added used in this pass. */
  chains: number;
  /** true if the ring may still hold chains (batch limit hit): call again. */
  more: boolean;
  /** A malformed chain ended the batch (the queue is broken); the chains before it count. */
  error: unknown;
}

/** What a pass reuses: the popped chain and the batch's parts for the log. One per servicing thread is enough. */
export class TransmitScratch {
  readonly chain = new RawChain();
  readonly parts: Uint8Array[] = [];
}

/** The main thread's target: one allocated copy per chain, kept in order. */
export class CopyTarget implements TransmitTarget {
  readonly copies: Uint8Array[] = [];

  take(chain: RawChain, len: number, logged: Uint8Array[] | null): boolean {
    const copy = new Uint8Array(len);
    chain.copyReadable(copy, 0);
    this.copies.push(copy);
    logged?.push(copy);
    return true;
  }
}

/**
 * One transmit pass: pop, copy, bound-check, log, publish used, notify. Pops up to maxChains
 * chains into `target`, appends the batch to `log` (if any), calls target.handOver(), then
 * publishes the used entries (the order that makes "used" imply "logged and handed over") and
 * signals the driver if it asked (EVENT_IDX/NO_INTERRUPT). A malformed chain ends the batch with
 * `error` after the chains before it were logged and published; a failing notify() throws.
 */
export function transmitPass(
  q: DeviceQueueLike, target: TransmitTarget, notify: () => void, maxChains: number, maxChainBytes: number,
  log?: TransmitJournal, scratch = new TransmitScratch(),
): TransmitPassResult {
  const logged = log !== undefined ? scratch.parts : null;
  const held = target.resumeHeld?.(logged) ?? null;
  let r: TransmitPassResult;
  if (held === 'waiting') r = { chains: 0, more: false, error: null };
  else {
    if (held !== null) q.addUsed(held, 0);
    r = popChains(q, target, maxChains, maxChainBytes, scratch.chain, logged, held !== null ? 1 : 0);
  }
  if (logged !== null && logged.length > 0) {
    log!.append(logged, Date.now()); // never throws for I/O: a failed log reports and drops
    logged.length = 0;
  }
  target.handOver?.();
  if (r.chains > 0) {
    q.publishUsed();
    if (q.needsNotification()) notify();
    // After the notify (off the guest's latency path); before the next pass logs anything more.
    log?.committed?.(q.usedIdx);
  }
  return r;
}

/**
 * Pop chains into `target` and add each used with len 0 (the device wrote nothing into it)
 * without publishing. Re-enables notifications when the ring runs dry, re-polling if a chain
 * raced in (enableNotification()). A chain of more than maxChainBytes readable bytes ends the
 * batch like a malformed one (CHAIN_TOO_BIG), before anything is copied or allocated for it.
 * The batch ends (`more`) after maxChains chains or MAX_PASS_DESCRIPTORS descriptors.
 * `chains`: chains already added in this pass (they count towards maxChains).
 */
function popChains(
  q: DeviceQueueLike, target: TransmitTarget, maxChains: number, maxChainBytes: number,
  chain: RawChain, logged: Uint8Array[] | null, chains: number,
): TransmitPassResult {
  let more = false;
  let descriptors = 0;
  try {
    q.disableNotification();
    for (;;) {
      if (target.ready?.() === false) break; // wait for credit (backpressure)
      if (!q.popAvailableInto(chain)) {
        if (q.enableNotification()) { q.disableNotification(); continue; }
        break;
      }
      const len = chain.readableBytes;
      checkChainBytes(len, maxChainBytes, chain.head); // the chain's size is the guest's (chain-bound.ts)
      if (!target.take(chain, len, logged)) break; // held: the rest of it waits for room
      q.addUsed(chain.head, 0);
      descriptors += chain.count;
      if (++chains >= maxChains || descriptors >= MAX_PASS_DESCRIPTORS) { more = true; break; }
    }
  } catch (error) {
    // A malformed chain: the chains before it were copied and added used; they count.
    return { chains, more: false, error };
  }
  return { chains, more, error: null };
}

/**
 * Pop up to maxChains chains and copy each, adding them used without publishing (the caller calls
 * publishUsed()) and without signalling the driver: the control transmitq, whose chains are one
 * message each. A malformed or too big chain ends the batch (`error`) after the chains before it.
 */
export function popReadableChains(q: DeviceQueueLike, maxChains: number, maxChainBytes: number): { copies: Uint8Array[]; more: boolean; error: unknown } {
  const target = new CopyTarget();
  const { more, error } = popChains(q, target, maxChains, maxChainBytes, new RawChain(), null, 0);
  return { copies: target.copies, more, error };
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
 * Drain a transmitq on the main thread: transmitPass into a CopyTarget, and return the bytes
 * concatenated. A malformed chain is returned (`error`) after the chains before it were journaled
 * and published.
 */
export function drainTransmitq(q: DeviceQueueLike, notify: () => void, maxChains = 256, journal?: TransmitJournal, maxChainBytes = MAX_PORT_CHAIN_BYTES): TransmitBatch {
  const target = new CopyTarget();
  const { chains, more, error } = transmitPass(q, target, notify, maxChains, maxChainBytes, journal);
  const copies = target.copies;
  let bytes: Uint8Array;
  if (copies.length === 1) bytes = copies[0]!;
  else {
    let total = 0;
    for (const c of copies) total += c.length;
    bytes = new Uint8Array(total);
    let off = 0;
    for (const c of copies) { bytes.set(c, off); off += c.length; }
  }
  return { bytes, chains, more, error };
}
