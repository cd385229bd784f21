// Wakes a port's publisher when its log changes (inotify through fs.watch on the log's directory,
// which sees rotations too), with a slow poll as the fallback: a guest's line reaches the stream
// in milliseconds instead of a poll period, and an idle port costs no reads.
//
// Caller contract: arm() before reading the log, then changed() only if the read found nothing.
// A change between the two is kept (dirty), so a write that lands during the read is never slept
// through.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Until the directory exists (the sink creates it on the first write), poll at this period. */
const NO_WATCH_POLL_MS = 100;

export class LogWatch {
  private watcher: FSWatcher | null = null;
  private dirty = false;
  private wake: (() => void) | null = null;
  private readonly dir: string;
  private readonly base: string;

  constructor(logFile: string) {
    this.dir = dirname(logFile);
    this.base = basename(logFile);
  }

  /** Forget earlier changes: the read that follows sees them all. */
  arm(): void {
    this.dirty = false;
    this.ensureWatcher();
  }

  /** Resolves on a change to the log (or a rotation of it), after `pollMs`, or on abort. */
  changed(pollMs: number, signal: AbortSignal): Promise<void> {
    if (this.dirty || signal.aborted) return Promise.resolve();
    const wait = this.watcher ? pollMs : Math.min(pollMs, NO_WATCH_POLL_MS);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, wait);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.wake?.();
  }

  private ensureWatcher(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        // Other ports of the VM share the directory; a null name (some platforms) counts.
        if (name !== null && !String(name).startsWith(this.base)) return;
        this.dirty = true;
        this.wake?.();
      });
      // The directory went away (VM removed): back to polling until it is back.
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null; // not there yet: poll, try again at the next arm()
    }
  }
}
