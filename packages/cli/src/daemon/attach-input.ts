// Attach input into a port's bounded host→guest backlog, without loss. When the backlog is full
// (the guest is not reading) the chunk is held and the AttachServer is told "not accepted", so it
// stops reading the writer's socket: the kernel buffer fills and the writer's writes block, as on
// a serial line. When the device reports bytes written to the guest, held chunks go on and the
// writer is resumed. What the server had already read when it paused (at most a read's worth of
// frames) is held here; `maxHeld` only bounds a misbehaving caller, and bytes over it are counted.
//
// Threads: main thread (AttachServer callbacks and device events).

export class AttachInput {
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Bytes discarded (over maxHeld, or refused by the device for a reason other than a full backlog). */
  dropped = 0;

  /**
   * @param send queues bytes for the guest; throws an error with reason BACKLOG_FULL when the
   *   backlog cannot take them now (nothing taken), anything else when it never will.
   * @param resume lets the writer's socket be read again.
   */
  constructor(
    private readonly send: (bytes: Uint8Array) => void,
    private readonly resume: () => void,
    private readonly onRefused: (err: unknown, bytes: number) => void,
    readonly maxHeld = 4 * 1024 * 1024,
  ) {}

  /** From AttachServer.onInput: false = pause the writer until drained() resumes it. */
  push(bytes: Uint8Array): boolean {
    if (this.held.length === 0 && this.trySend(bytes)) return true;
    if (this.heldBytes + bytes.length > this.maxHeld) {
      this.dropped += bytes.length;
      return false;
    }
    this.held.push(Uint8Array.from(bytes)); // the caller's buffer may be reused
    this.heldBytes += bytes.length;
    return false;
  }

  /** Held input waiting for room in the backlog. */
  get waiting(): boolean {
    return this.held.length > 0;
  }

  /** The backlog has room again: pass held chunks on, and resume the writer once all went. */
  drained(): void {
    while (this.held.length > 0) {
      const next = this.held[0]!;
      if (!this.trySend(next)) return;
      this.held.shift();
      this.heldBytes -= next.length;
    }
    this.resume();
  }

  /** The port is gone: held input is discarded and counted. */
  discard(): void {
    this.dropped += this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
  }

  private trySend(bytes: Uint8Array): boolean {
    try {
      this.send(bytes);
      return true;
    } catch (err) {
      if ((err as { reason?: string }).reason === 'BACKLOG_FULL') return false;
      this.dropped += bytes.length;
      this.onRefused(err, bytes.length);
      return true;
    }
  }
}
