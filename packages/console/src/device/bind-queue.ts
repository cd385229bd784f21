/**
 * StartedQueue → QueueBinding: a @vtcon/ring DeviceQueue over the guest memory, the kick fd
 * watched with the addon's uv_poll on the calling thread's loop, the call fd written on notify,
 * both guarded (guarded-eventfd.ts): a bad fd breaks the queue, never the process.
 */
import { DeviceQueue, type GuestMemory, type QueueConfig } from '@vtcon/ring';
import type { QueueBinding } from '../port/queue.js';
import type { StartedQueueLike } from './vhost-device.js';
import { callNotifier, type EventfdOps, watchKickFd } from './guarded-eventfd.js';

export type { EventfdOps } from './guarded-eventfd.js';

export function makeBindQueue(ops: EventfdOps): (index: number, q: StartedQueueLike) => QueueBinding {
  return (index, q) => {
    const queue = new DeviceQueue(q.memory as GuestMemory, q.config as QueueConfig, { lastAvailIdx: q.lastAvailIdx, usedIdx: q.usedIdx });
    return {
      index,
      queue,
      notify: callNotifier(ops, q.callFd, index),
      watchKick: (cb, onError) => watchKickFd(ops, q.kickFd, index, cb, onError),
    };
  };
}
