// An attach session that rides through a daemon restart: it counts the output bytes it got after
// the reply's stream offset, and when the connection drops it connects again (backoff, for up to
// ~30 s) asking the port log for output "from" that offset, so the person sees no gap and no
// repeat, only one line on stderr. Only in log mode (the reply carries `offset`): output fed from
// memory has no offsets, so there the session ends as before.
//
// Residual: a skipped-bytes marker (the reader fell behind what the log keeps) is counted as
// output, so a resume after one starts a little early or late.
//
// Threads: the CLI's main thread.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttachConnection, AttachRequest, ResizeRequest } from '@vtcon/console';

export const RESUME_NOTICE = 'vtcon: daemon restarted, reattached';

export interface ResumeOptions {
  /** How long to keep trying after a drop; default 30 s. */
  giveUpMs?: number;
  /** Input typed while disconnected is held up to this many bytes (then dropped); default 1 MiB. */
  maxHeldInput?: number;
}

export class ResumingAttach {
  private conn: AttachConnection;
  private offset: number | null;
  private stopped = false;
  private reconnecting = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private closeListener: ((why: string) => void) | null = null;

  constructor(
    first: AttachConnection,
    private readonly connect: (req: AttachRequest) => Promise<AttachConnection>,
    private readonly req: AttachRequest,
    private readonly onOutput: (b: Uint8Array) => void,
    private readonly onNote: (line: string) => void,
    private readonly opts: ResumeOptions = {},
  ) {
    this.conn = first;
    this.offset = first.reply.offset ?? null;
    this.wire(first);
  }

  /** Called once when the session ends for good (not on a drop it recovers from). */
  onClose(listener: (why: string) => void): void {
    this.closeListener = listener;
  }

  /** Stream offset of the next output byte (null: the daemon feeds this port from memory). */
  get position(): number | null {
    return this.offset;
  }

  sendInput(bytes: Uint8Array): void {
    if (!this.reconnecting) {
      this.conn.sendInput(bytes);
      return;
    }
    const max = this.opts.maxHeldInput ?? 1024 * 1024;
    if (this.heldBytes + bytes.length > max) return;
    this.held.push(Uint8Array.from(bytes));
    this.heldBytes += bytes.length;
  }

  sendResize(size: ResizeRequest): void {
    if (!this.reconnecting) this.conn.sendResize(size);
  }

  /** Ends the session (detach): no reconnect. */
  stop(): void {
    this.stopped = true;
    this.conn.socket.destroy();
  }

  private wire(conn: AttachConnection): void {
    const { socket } = conn;
    // A reset ends the connection through 'close' below.
    socket.on('error', () => socket.destroy());
    const out = (b: Uint8Array) => {
      if (this.offset !== null) this.offset += b.length;
      this.onOutput(b);
    };
    if (conn.initial.length > 0) out(conn.initial);
    socket.on('data', out);
    socket.once('close', () => void this.dropped(conn));
    socket.resume();
  }

  private async dropped(conn: AttachConnection): Promise<void> {
    if (this.stopped || conn !== this.conn) return;
    if (this.offset === null) {
      this.end('closed');
      return;
    }
    this.reconnecting = true;
    const deadline = Date.now() + (this.opts.giveUpMs ?? 30_000);
    let delay = 50;
    while (!this.stopped && Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
      if (this.stopped) return;
      let next: AttachConnection;
      try {
        next = await this.connect({ ...this.req, replay: 0, from: this.offset });
      } catch {
        continue; // not back yet (ENOENT, ECONNREFUSED, no reply)
      }
      if (this.stopped) {
        next.socket.destroy();
        return;
      }
      this.conn = next;
      // Normally the offset asked for; a daemon that lost its offsets table answers where it did start.
      this.offset = next.reply.offset ?? null;
      this.reconnecting = false;
      this.onNote(RESUME_NOTICE);
      this.wire(next);
      const held = this.held;
      this.held = [];
      this.heldBytes = 0;
      for (const b of held) next.sendInput(b);
      return;
    }
    if (!this.stopped) this.end('closed; the daemon did not come back within 30 s');
  }

  private end(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeListener?.(why);
  }
}
