// One port's output publisher: follows the port's log file (the source of truth, written before
// the guest's chain is acknowledged) and publishes it, chunk by chunk, to the output stream.
//
// Exactly once, in order: each message says where its bytes start (history offset, inode, file
// position); the resume point after a restart or an error is the subject's last message in the
// stream. Each publish expects the subject's previous sequence (a second writer or a reordering
// is refused, not interleaved) and carries Nats-Msg-Id host/vm/port/offset, so a retry whose
// first attempt did land is dropped by the stream's de-duplication. One publish in flight per
// port; while NATS is away the log keeps growing and is caught up afterwards. A backlog goes out
// in chunks near max_payload, read from a file kept open (log-cursor.ts) into warm buffers shared
// by the daemon's publishers (chunk-pool.ts).
//
// Never slows a guest: it reads the file, not the ring, on the daemon's main thread with async
// fs calls only. It wakes on the log's inotify events (log-watch.ts); the poll is a fallback.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { ChunkPool } from './chunk-pool.js';
import { LogReader, type Chunk, type LogPosition } from './log-cursor.js';
import { LogWatch } from './log-watch.js';
import { H_INO, H_OFFSET, H_POS, H_TIME, msgId, outSubject } from './names.js';
import { resumePoint } from './output-stream.js';

/**
 * The largest message: NATS's default max_payload (1 MiB), less room for the headers. Large
 * because one publish is in flight per port and each waits for its ack: the chunk size sets the
 * catch-up rate, and every message costs a round trip, an ack and a read. A server with a smaller
 * max_payload gets smaller chunks.
 */
export const CHUNK_MAX = 1024 * 1024 - 4096;
const HEADER_ROOM = 4096;

/** Each port's own read buffer: a line or a burst of lines; a backlog borrows from the pool. */
const SMALL_READ = 16 * 1024;

/** Large buffers shared by every publisher of the process: 8 MiB at most, in flight or warm. */
const sharedPool = new ChunkPool(CHUNK_MAX, 8);

/** Fallback poll of the log when no inotify event came (the watch is what normally wakes us). */
const POLL_MS = 2000;

export interface PublisherOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  host: string;
  vm: string;
  port: string;
  logFile: string;
  /** Fallback poll period (default POLL_MS); the log's inotify events wake the publisher sooner. */
  pollMs?: number;
  /** The server's max_payload now (it may change with a reconnect to another server). */
  maxPayload?(): number | undefined;
  /** Where large read buffers come from (default: one pool for the whole process). */
  pool?: ChunkPool;
  onWarn?(msg: string, detail: Record<string, unknown>): void;
}

export interface PublisherStats { published: number; offset: number; connected: boolean; lastError: string | null }

export class PortPublisher {
  readonly subject: string;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private readonly watch: LogWatch;
  private readonly reader: LogReader;
  private readonly pool: ChunkPool;
  /** Replaced, never rewritten, once a publish from it failed (see chunk-pool.ts). */
  private small = Buffer.allocUnsafeSlow(SMALL_READ);
  private offset = 0;
  private published = 0;
  private healthy = false;
  private lastError: string | null = null;

  constructor(private readonly o: PublisherOptions) {
    this.subject = outSubject(o.host, o.vm, o.port);
    this.watch = new LogWatch(o.logFile);
    this.reader = new LogReader(o.logFile);
    this.pool = o.pool ?? sharedPool;
    this.done = this.run().finally(async () => {
      this.watch.close();
      await this.reader.close();
    });
  }

  stats(): PublisherStats {
    return { published: this.published, offset: this.offset, connected: this.healthy, lastError: this.lastError };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    const pollMs = this.o.pollMs ?? POLL_MS;
    let backoff = 100;
    while (!signal.aborted) {
      try {
        await this.follow(signal, pollMs);
      } catch (err) {
        if (signal.aborted) break;
        const msg = (err as Error).message;
        // One line per change of error, not per retry: an outage is one event.
        if (msg !== this.lastError) this.o.onWarn?.('fleet publish failed; will resume from the stream', { subject: this.subject, err: msg });
        this.lastError = msg;
        this.healthy = false;
        await sleep(backoff, undefined, { signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** Resumes from the stream, then publishes until an error (thrown) or stop. */
  private async follow(signal: AbortSignal, pollMs: number): Promise<void> {
    const r = await resumePoint(this.o.jsm, this.o.stream, this.subject);
    let { offset, seq } = r;
    let at: LogPosition | null = r.next;
    this.offset = offset;
    this.healthy = true;
    this.lastError = null;
    while (!signal.aborted) {
      this.watch.arm();
      const large = this.pool.borrow();
      let chunk: Chunk | null;
      try {
        chunk = await this.reader.read(at, large?.subarray(0, this.chunkMax()) ?? this.small);
      } catch (err) {
        if (large) this.pool.giveBack(large); // the client never saw it
        throw err;
      }
      if (!chunk) {
        if (large) this.pool.giveBack(large);
        await this.watch.changed(pollMs, signal);
        continue;
      }
      if (chunk.gap) this.o.onWarn?.('fleet publisher: log rotated past the resume point; bytes in between are not in the stream', { subject: this.subject, offset });
      const h = headers();
      h.set(H_OFFSET, String(offset));
      h.set(H_INO, String(chunk.at.ino));
      h.set(H_POS, String(chunk.at.pos));
      h.set(H_TIME, new Date().toISOString());
      let ack: PubAck;
      try {
        ack = await this.o.js.publish(this.subject, chunk.bytes, {
          msgID: msgId(this.o.host, this.o.vm, this.o.port, offset),
          expect: { lastSubjectSequence: seq, streamName: this.o.stream },
          headers: h,
          timeout: 5000,
        });
      } catch (err) {
        // The message may still sit in the client's outbound buffer by reference (sent after a
        // reconnect): its bytes must stay as they are, so that buffer is never read into again.
        if (large) this.pool.forfeit(large);
        else this.small = Buffer.allocUnsafeSlow(SMALL_READ);
        throw err;
      }
      // The ack means the client has sent (copied) the chunk: its buffer is free for the next read.
      if (large) this.pool.giveBack(large);
      seq = ack.seq;
      offset += chunk.bytes.length;
      at = { ino: chunk.at.ino, pos: chunk.at.pos + chunk.bytes.length };
      this.offset = offset;
      if (!ack.duplicate) this.published += chunk.bytes.length;
    }
  }

  private chunkMax(): number {
    const max = this.o.maxPayload?.();
    return max !== undefined && max - HEADER_ROOM < CHUNK_MAX ? Math.max(SMALL_READ, max - HEADER_ROOM) : CHUNK_MAX;
  }
}
