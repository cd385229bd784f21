/**
 * ClientSlots: one daemon-wide budget of attach clients, over the attach sockets of every port
 * (the control API has a small fixed cap of its own). Every client costs the daemon an fd, and the daemon shares one fd table with what
 * keeps the VMs going: QEMU's (re)connections and the fds they bring, eventfds, memfds, log files.
 * Per-port and per-socket caps do not bound the sum over hundreds of ports, so a client past the
 * budget is refused at accept (its fd closed at once) instead of leaving a VM's reconnect with
 * EMFILE.
 *
 * Threading: main thread.
 */
import { readFileSync } from 'node:fs';

/** The share of RLIMIT_NOFILE clients may hold; the rest is the VMs'. */
export const CLIENT_FD_SHARE = 1 / 4;

export class ClientSlots {
  /** fds held by clients. */
  private used = 0;
  /** Connections refused because the budget was spent. */
  refused = 0;

  constructor(readonly limit: number) {}

  /** A budget of CLIENT_FD_SHARE of this process's soft RLIMIT_NOFILE (Linux /proc). */
  static fromFdLimit(share = CLIENT_FD_SHARE): ClientSlots {
    return new ClientSlots(Math.max(1, Math.floor(softFdLimit() * share)));
  }

  /** Takes `fds` slots for a new client (its socket, and a log reader's file); false (counted) when they are not left. */
  take(fds = 1): boolean {
    if (this.used + fds > this.limit) {
      this.refused += 1;
      return false;
    }
    this.used += fds;
    return true;
  }

  /** Gives back what take(fds) took, once, when that client's socket is closed. */
  give(fds = 1): void {
    this.used = Math.max(0, this.used - fds);
  }

  get inUse(): number {
    return this.used;
  }
}

/** The soft "Max open files" of this process; 1024 (the usual default) if it cannot be read. */
export function softFdLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m && m[1] !== 'unlimited') return Number(m[1]);
  } catch {
    // not Linux, or no /proc: the conservative default
  }
  return 1024;
}
