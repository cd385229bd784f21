/**
 * Host→guest servicing of one receiveq (the guest's "in" queue): fill the receive buffers the
 * guest posted with pending bytes. Caller: the thread owning the queue.
 */
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
 * case notifications are re-enabled so the guest's next post kicks us.
 */
export function fillReceiveq(q: DeviceQueueLike, src: ByteSource, notify: () => void, maxChains = 256): ReceiveResult {
  let bytes = 0;
  let chains = 0;
  let starved = false;
  while (src.bytes > 0 && chains < maxChains) {
    const chain = q.popAvailable();
    if (chain === null) {
      if (q.enableNotification()) continue;
      starved = true;
      break;
    }
    let written = 0;
    for (const seg of chain.writable) {
      if (src.bytes === 0) break;
      written += src.takeInto(seg);
    }
    q.pushUsed(chain.head, written);
    bytes += written;
    chains++;
  }
  if (chains > 0 && q.needsNotification()) notify();
  return { bytes, chains, starved };
}
