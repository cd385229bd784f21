/**
 * StartedQueue → QueueBinding: a @vtcon/ring DeviceQueue over the guest memory, the kick eventfd
 * watched with the addon's uv_poll on the calling thread's loop, the call eventfd written on
 * notify. Works the same inside a worker (the worker passes its own GuestMemory).
 */
import { DeviceQueue, type GuestMemory, type QueueConfig } from '@vtcon/ring';
import type { QueueBinding } from '../port/queue.js';
import type { StartedQueueLike } from './vhost-device.js';

/** The three eventfd calls of @vtcon/transport's native layer that servicing needs. */
export interface EventfdOps {
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): void;
  watchFd(fd: number, events: 'readable', cb: (readable: boolean, writable: boolean) => void): { stop(): void };
}

export function makeBindQueue(ops: EventfdOps): (index: number, q: StartedQueueLike) => QueueBinding {
  return (index, q) => {
    const queue = new DeviceQueue(q.memory as GuestMemory, q.config as QueueConfig, { lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx });
    return {
      index,
      queue,
      notify: () => ops.eventfdWrite(q.callFd, 1),
      watchKick: (cb) => ops.watchFd(q.kickFd, 'readable', () => {
        // Read (reset) the counter first: kicks arriving during cb re-arm the poll.
        ops.eventfdRead(q.kickFd);
        cb();
      }),
    };
  };
}
