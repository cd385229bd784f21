/**
 * Host→guest servicing of one receiveq (the guest's "in" queue): fill the receive buffers the
 * guest posted with pending bytes. Caller: the thread owning the queue.
 */
import { RawChain } from '@vtcon/ring';
import { MAX_PASS_DESCRIPTORS } from './chain-bound.js';
import type { DeviceQueueLike } from './queue.js';

export interface ByteSource {
  readonly bytes: number;
  takeInto(dst: Uint8Array): number;
}

export interface ReceiveResult {
  bytes: number;
  chains: number;
  /** true when bytes remain but the guest has no buffer posted (wait for a kick). */
  starved: boolean;
}

/**
 * While the source has bytes: pop a chain, write into its writable segments in order, push used
 * with the written length. Stops when the source is empty or the guest has no buffer; in the latter
 * case notifications are re-enabled so the guest's next post kicks us. A pass also ends after
 * maxChains chains or MAX_PASS_DESCRIPTORS descriptors (not starved: the caller runs another).
 * `chain`: the popped chain, reusable across passes of one thread.
 */
export function fillReceiveq(q: DeviceQueueLike, src: ByteSource, notify: () => void, maxChains = 256, chain = new RawChain()): ReceiveResult {
  let bytes = 0;
  let chains = 0;
  let descriptors = 0;
  let starved = false;
  while (src.bytes > 0 && chains < maxChains && descriptors < MAX_PASS_DESCRIPTORS) {
    if (!q.popAvailableInto(chain)) {
      if (q.enableNotification()) continue;
      starved = true;
      break;
    }
    let written = 0;
    for (let i = chain.readableCount; i < chain.count && src.bytes > 0; i++) {
      // A view per segment is an allocation: none for an empty one (the guest chooses how many).
      if (chain.lengths[i] !== 0) written += src.takeInto(chain.segment(i));
    }
    q.pushUsed(chain.head, written);
    bytes += written;
    chains++;
    descriptors += chain.count;
  }
  if (chains > 0 && q.needsNotification()) notify();
  return { bytes, chains, starved };
}
