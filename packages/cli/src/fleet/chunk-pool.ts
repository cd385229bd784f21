// The large read buffers of a daemon's publishers, shared: a port with a backlog borrows one for
// a read and gives it back once the chunk's publish is acknowledged. Reused buffers are warm
// (fresh memory for every chunk costs page faults that outweigh the copy itself), and the pool's
// size bounds the bytes in flight however many ports catch up at once; a port that finds it empty
// reads into its own small buffer meanwhile.
//
// A buffer whose publish failed is never given back: the client may still hold the message by
// reference (sent after a reconnect), so its bytes must stay as they are.

export class ChunkPool {
  private readonly free: Buffer[] = [];
  private lent = 0;

  constructor(readonly bufferBytes: number, readonly maxBuffers: number) {}

  /** A buffer of bufferBytes, or null when all maxBuffers are lent. */
  borrow(): Buffer | null {
    const b = this.free.pop() ?? (this.lent < this.maxBuffers ? Buffer.allocUnsafeSlow(this.bufferBytes) : null);
    if (b) this.lent++;
    return b;
  }

  /** After the chunk read into `b` was acknowledged. */
  giveBack(b: Buffer): void {
    this.lent--;
    this.free.push(b);
  }

  /** After a failed publish of the chunk read into `b`: the pool makes a new one when needed. */
  forfeit(_b: Buffer): void {
    this.lent--;
  }
}
