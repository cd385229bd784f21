/**
 * Kick and call fds as the device uses them, guarded: the fds come from the front-end (QEMU) and
 * may be anything — no fd at all, a read-only fd, a socket or pipe whose peer went away, a full
 * non-blocking pipe. A failure there breaks that one queue (a ConsoleError with scope 'queue',
 * the NativeError as cause), like a malformed ring does; it never escapes a native poll callback,
 * where it would be an uncaught exception of the whole process.
 *
 * Used on the main thread (control queues, InlineEngine, via bind-queue.ts) and in the workers
 * (service-task.ts). Whoever calls these owns the queue: one thread at a time.
 */
import { signalCall } from '@vtcon/transport';
import { ConsoleError } from '../errors.js';

/** The eventfd calls of @vtcon/transport's native layer that servicing needs (defined once, here). */
export interface EventfdOps {
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): void;
  watchFd(fd: number, events: 'readable', cb: (readable: boolean, writable: boolean) => void): { stop(): void };
}

/**
 * Consecutive readable-but-empty reads after which the kick fd is declared dead. An eventfd polled
 * readable always has a count; a socket or pipe at EOF polls readable forever and reads nothing,
 * which would spin the thread's loop. A few spurious wake-ups are tolerated.
 */
export const MAX_EMPTY_KICKS = 64;

const noWatch = { stop(): void {} };

/**
 * The queue's notify: write 1 to its call fd. `fd < 0` (SET_VRING_CALL with the invalid-fd flag,
 * or never sent): the front-end polls the used ring instead (vhost-user spec, "Ring states"), so
 * nothing is sent. A full counter counts as signalled (transport's signalCall). Any other failed
 * write throws ConsoleError CALL_FD_FAILED (scope 'queue'): every caller runs inside its queue's
 * servicing, whose catch breaks the queue.
 */
export function callNotifier(ops: EventfdOps, fd: number, index: number): () => void {
  if (fd < 0) return () => {};
  const q = { callFd: fd };
  return () => {
    try {
      signalCall(q, ops);
    } catch (e) {
      throw new ConsoleError('CALL_FD_FAILED', `queue ${index}: writing call fd ${fd} failed: ${(e as Error)?.message ?? String(e)}`, { scope: 'queue', cause: e });
    }
  };
}

/**
 * Watch the kick fd on this thread's loop: read (reset) it, then run `onKick`. Anything thrown —
 * the read (EBADF, ECONNRESET), an fd at EOF, `onKick` itself — stops the watch and goes to
 * `onError` once (a kick fd failure as ConsoleError KICK_FD_FAILED, what `onKick` threw as is). `fd < 0` (no kick fd): nothing to watch; the queue is serviced when started and
 * when the host has bytes for it. A watch that cannot be set up (an fd epoll refuses, such as
 * /dev/null) goes to `onError` at once, synchronously.
 */
export function watchKickFd(ops: EventfdOps, fd: number, index: number, onKick: () => void, onError: (e: unknown) => void): { stop(): void } {
  if (fd < 0) return noWatch;
  let stopped = false;
  let empty = 0;
  let watch: { stop(): void } = noWatch;
  /** what: the kick fd failed (wrapped as KICK_FD_FAILED); null: onKick threw (passed on as is). */
  const fail = (e: unknown, what: string | null): void => {
    if (stopped) return;
    stopped = true;
    watch.stop();
    onError(what === null ? e : new ConsoleError('KICK_FD_FAILED', `queue ${index}: ${what}: ${(e as Error)?.message ?? String(e)}`, { scope: 'queue', cause: e }));
  };
  try {
    watch = ops.watchFd(fd, 'readable', () => {
      if (stopped) return;
      try {
        // Read (reset) the counter first: kicks arriving during onKick re-arm the poll.
        if (ops.eventfdRead(fd) === 0) {
          if (++empty >= MAX_EMPTY_KICKS) throw new Error(`kick fd ${fd} polls readable but reads nothing (not an eventfd, or its peer is gone)`);
        } else {
          empty = 0;
        }
      } catch (e) {
        fail(e, `reading kick fd ${fd} failed`);
        return;
      }
      try {
        onKick();
      } catch (e) {
        fail(e, null);
      }
    });
  } catch (e) {
    fail(e, `watching kick fd ${fd} failed`);
    return noWatch;
  }
  return { stop: () => { stopped = true; watch.stop(); } };
}
