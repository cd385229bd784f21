/**
 * AttachServer: the per-port attach endpoint, a Unix socket (mode 0600) with many readers,
 * at most one writer, and read-only spectators. See attach-protocol.ts for the wire format.
 *
 * Roles: a raw client (conserver `uds`, socat) becomes the writer if there is none, else a
 * spectator. A vtcon client asks: 'writer' (granted if free, otherwise downgraded to
 * spectator and told so in VTCON-OK), 'spectator', or 'force-writer' (takes the role; the
 * previous writer stays connected as a spectator, as conserver's force-attach does). When
 * the writer leaves nobody is promoted: the role waits for the next client that asks.
 * Spectators' input (and resize requests) are discarded and counted.
 *
 * Telling raw from vtcon clients: a client is "pending" until its first bytes arrive or
 * handshakeGraceMs passes. Output produced meanwhile is kept for it (bounded like any
 * client queue), so a raw client that says nothing loses nothing; it only sees its first
 * bytes up to handshakeGraceMs late.
 *
 * Replay: with a scrollback and replay N > 0 (the handshake's `replay`, or rawReplayLines
 * for raw clients) the client first gets scrollback.lastLines(N) taken at the moment it
 * is classified, then the live stream. The port must write to the scrollback and this
 * server in the same synchronous turn; then the replay and the live stream neither overlap
 * nor leave a gap. (The pending output is then dropped: the replay contains it.)
 *
 * Log mode (option `log`, the port's raw log as a LogStream): none of the queueing below. Each
 * client follows the log with its own offset (attach-feed.ts), one buffer per client; a slow
 * client lags, nobody is disconnected for being slow, and what rotated away before a client read
 * it is replaced by a skipped-bytes marker. Replay is the last N lines of the log, or `from` an
 * offset; both start the same read, so replay and live output cannot overlap or gap. A pending
 * client starts where the stream ended when it connected.
 *
 * Memory mode (no log): a client's output queue is limited to clientQueueLimit bytes; a client
 * over it is disconnected ('SLOW_CONSUMER', counted), visibly, and can re-attach with replay.
 * Memory is bounded by maxClients × (clientQueueLimit + one chunk). The attach sink never
 * applies backpressure to the port: output to nobody is not a reason to stop the guest.
 *
 * Input flow control: onInput may return false ("backlog full"); that client's socket is not
 * read (its writes block, no keystroke is lost) until resumeInput() is called.
 *
 * Threading: main thread (node:net). Callbacks run on that thread.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { PortSink } from './sink.js';
import { ConsoleError } from '../errors.js';
import {
  ATTACH_HELLO, ATTACH_PROTOCOL_VERSION, FrameDecoder, encodeAttachError, encodeAttachReply, readHandshake,
  type AttachRequest, type AttachRole,
} from './attach-protocol.js';
import { newClient, PausedHangupWatch, snapshot, type Client } from './attach-clients.js';
import { ClientFeed } from './attach-feed.js';
import { LogStreamReader, lastLinesStart } from './log-stream-reader.js';
import type { LogStream } from './log-stream.js';
import { listenSocketFile, removeIfOurs } from './attach-socket.js';
import type {
  AttachClientInfo, AttachClientProtocol, AttachDetachReason, AttachServerOptions, AttachStats,
} from './attach-types.js';

export type {
  AttachClientInfo, AttachClientProtocol, AttachDetachReason, AttachServerOptions, AttachStats,
} from './attach-types.js';

/** How long a refused client may take to read the VTCON-ERR line before its socket is closed. */
const REFUSED_GRACE_MS = 1000;

export class AttachServer extends EventEmitter implements PortSink {
  readonly path: string;
  private readonly server: Server;
  private readonly opts: Required<Omit<AttachServerOptions, 'scrollback' | 'onResize' | 'log' | 'slots'>> & Pick<AttachServerOptions, 'scrollback' | 'onResize' | 'slots'>;
  /** Log mode (see attach-feed.ts) when set; else clients are fed from memory. */
  private readonly log: LogStream | null;
  private wakeScheduled = false;
  private readonly clients = new Set<Client>();
  private writer: Client | null = null;
  private nextId = 1;
  private closed = false;
  private ino = -1;
  /** Polls paused writers for a closed peer. */
  private readonly hangups = new PausedHangupWatch(this.clients);
  private readonly counters: AttachStats = {
    clientsNow: 0, clientsTotal: 0, bytesOut: 0, bytesIn: 0, spectatorBytesDiscarded: 0,
    slowConsumerDisconnects: 0, protocolErrors: 0, tooManyClients: 0, bytesSkipped: 0,
  };

  private constructor(options: AttachServerOptions) {
    super();
    this.path = options.path;
    const { log, ...rest } = options;
    this.log = log ?? null;
    this.opts = {
      rawReplayLines: 0, clientQueueLimit: 1024 * 1024, maxClients: 64, handshakeGraceMs: 200, readBufferBytes: 64 * 1024,
      replayMaxBytes: 1024 * 1024, ...rest,
    };
    this.server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (s) => this.accept(s));
  }

  /** Creates the socket: bound under a temporary name, chmod 0600, then renamed onto `path`
   * so no client can ever connect to it with wider permissions. */
  static async listen(options: AttachServerOptions): Promise<AttachServer> {
    const srv = new AttachServer(options);
    srv.ino = await listenSocketFile(srv.server, options.path);
    srv.server.on('error', (e) => srv.emit('server-error', e));
    return srv;
  }

  get stats(): Readonly<AttachStats> {
    return { ...this.counters, clientsNow: this.attachedCount() };
  }

  /** Attached clients (pending ones are not listed), writer first. */
  who(): AttachClientInfo[] {
    const list = [...this.clients].filter((c) => c.state === 'attached').map((c) => snapshot(c));
    return list.sort((a, b) => (a.role === b.role ? a.id - b.id : a.role === 'writer' ? -1 : 1));
  }

  /** Whether clients follow the port's log (true) or are fed from memory. */
  get followsLog(): boolean {
    return this.log !== null;
  }

  /**
   * Log mode: the chunk is in the log already; advance the stream and wake the clients once for
   * the batch (one setImmediate, whatever the number of chunks or clients). Else: sends the
   * port's output to every client (copied once, shared).
   */
  write(chunk: Uint8Array, _at: number): void {
    if (this.closed) throw new ConsoleError('SINK_CLOSED', `attach ${this.path} is closed`);
    if (this.log) {
      this.log.advance(chunk.length);
      if (!this.wakeScheduled && this.clients.size > 0) {
        this.wakeScheduled = true;
        setImmediate(() => {
          this.wakeScheduled = false;
          for (const c of this.clients) c.feed?.wake();
        });
      }
      return;
    }
    if (chunk.length === 0 || this.clients.size === 0) return;
    const copy = Buffer.from(chunk); // one copy: sockets may keep it past this call
    for (const c of this.clients) {
      if (c.state === 'pending') {
        c.pendingOut.push(copy);
        c.pendingOutBytes += copy.length;
        if (c.pendingOutBytes > this.opts.clientQueueLimit) this.drop(c, 'SLOW_CONSUMER');
      } else if (c.state === 'attached') {
        this.send(c, copy);
      }
    }
  }

  /** Resumes reading input from clients paused by onInput returning false. */
  resumeInput(): void {
    for (const c of this.clients) {
      if (c.paused && c.state !== 'gone') {
        c.paused = false;
        c.socket.resume();
      }
    }
  }

  /** Disconnects a client (daemon's kick command). */
  kick(id: number): boolean {
    for (const c of this.clients) {
      if (c.info.id === id) {
        this.drop(c, 'KICKED');
        return true;
      }
    }
    return false;
  }

  async flush(): Promise<void> {
    // Output is handed to the sockets in write(); nothing is held back in this sink.
  }

  /** Disconnects everyone, stops listening and removes the socket file if it is still ours. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hangups.stop();
    for (const c of [...this.clients]) this.drop(c, 'SERVER_CLOSED');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await removeIfOurs(this.path, this.ino);
  }

  private attachedCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.state === 'attached') n++;
    return n;
  }

  private accept(socket: Socket): void {
    // The daemon-wide budget is asked last: a slot is only taken by a client that is kept.
    // Log mode: a client reads the log through its own fd besides its socket.
    const fds = this.log ? 2 : 1;
    if (this.closed || this.clients.size >= this.opts.maxClients || (this.opts.slots && !this.opts.slots.take(fds))) {
      this.counters.tooManyClients += this.closed ? 0 : 1;
      socket.destroy();
      return;
    }
    // The slot is the fd's: given back when the socket is closed, not when the client is forgotten
    // (a refused client may hold its half-closed socket a while).
    if (this.opts.slots) socket.once('close', () => this.opts.slots!.give(fds));
    const id = this.nextId++;
    const c = newClient(id, socket, this.log?.end ?? 0);
    this.clients.add(c);
    socket.on('data', (b: Buffer) => this.onData(c, b));
    socket.on('error', () => undefined); // reported through 'close'
    socket.on('close', () => this.gone(c, 'CLIENT_CLOSED'));
    c.timer = setTimeout(() => {
      c.timer = null;
      if (c.state === 'pending') this.attachRaw(c);
    }, this.opts.handshakeGraceMs);
  }

  private onData(c: Client, b: Buffer): void {
    if (c.state === 'gone') return;
    if (c.state === 'pending') {
      c.pendingIn = c.pendingIn.length === 0 ? b : Buffer.concat([c.pendingIn, b]);
      const h = readHandshake(c.pendingIn);
      if (h.kind === 'raw') this.attachRaw(c);
      else if (h.kind === 'refuse') this.refuse(c, h.message);
      else if (h.kind === 'vtcon') {
        c.pendingIn = Buffer.alloc(0);
        this.attachVtcon(c, h.request);
        if (h.rest.length > 0) this.onData(c, h.rest);
      }
      return;
    }
    if (c.decoder) {
      let frames;
      try {
        frames = c.decoder.push(b);
      } catch {
        this.counters.protocolErrors += 1;
        this.drop(c, 'PROTOCOL_ERROR');
        return;
      }
      for (const f of frames) {
        if (c.state !== 'attached') return;
        if (f.type === 'data') this.input(c, f.bytes);
        // Only the writer sizes the guest's terminal; a spectator's resize is ignored.
        else if (c === this.writer) this.opts.onResize?.(f.size, snapshot(c));
      }
      return;
    }
    // A vtcon handshake that arrived after the grace period (loaded machine): upgrade the
    // client instead of typing "VTCON-ATTACH ..." into the guest. The client helper skips
    // the raw output it got before the reply line.
    if (c.info.protocol === 'raw' && c.info.bytesIn === 0 && c.info.inputDiscarded === 0
      && b.subarray(0, ATTACH_HELLO.length).toString('latin1') === ATTACH_HELLO) {
      if (this.writer === c) this.writer = null;
      if (c.feed) {
        c.startOffset = c.feed.reader.offset;
        void c.feed.close();
        c.feed = null;
      }
      c.state = 'pending';
      this.onData(c, b);
      return;
    }
    this.input(c, b);
  }

  private input(c: Client, bytes: Uint8Array): void {
    if (c !== this.writer) {
      c.info.inputDiscarded += bytes.length;
      this.counters.spectatorBytesDiscarded += bytes.length;
      return;
    }
    c.info.bytesIn += bytes.length;
    this.counters.bytesIn += bytes.length;
    if (this.opts.onInput(bytes, snapshot(c)) === false && !c.paused) {
      c.paused = true;
      c.socket.pause();
      this.hangups.start();
    }
  }

  private attachRaw(c: Client): void {
    const input = c.pendingIn;
    c.pendingIn = Buffer.alloc(0);
    this.classify(c, 'raw', this.writer === null ? 'writer' : 'spectator', this.opts.rawReplayLines, null);
    if (input.length > 0 && c.state === 'attached') this.input(c, input);
  }

  private attachVtcon(c: Client, req: AttachRequest): void {
    if (req.name) c.info.name = req.name;
    else c.info.name = `vtcon-${c.info.id}`;
    c.decoder = new FrameDecoder();
    let role: AttachRole = 'spectator';
    if (req.role === 'force-writer') role = 'writer';
    else if (req.role === 'writer' && this.writer === null) role = 'writer';
    this.classify(c, 'vtcon', role, req.replay ?? 0, (replayed, offset) =>
      encodeAttachReply({
        protocol: ATTACH_PROTOCOL_VERSION, id: c.info.id, role, replayed,
        writer: this.writer ? this.writer.info.name : null, ...(offset !== undefined ? { offset } : {}),
      }), req.from);
  }

  /** Moves a pending client to attached: role, greeting (vtcon), replay or pending output. */
  private classify(c: Client, protocol: AttachClientProtocol, role: AttachRole, replayLines: number,
    greeting: ((replayed: number, offset?: number) => Uint8Array) | null, from?: number): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    c.state = 'attached';
    c.info.protocol = protocol;
    c.info.since = Date.now();
    if (role === 'writer') {
      const prev = this.writer;
      this.writer = c;
      if (prev && prev !== c) {
        prev.info.role = 'spectator';
        this.emit('role', snapshot(prev), 'writer');
      }
    }
    c.info.role = role;
    if (this.log) {
      this.startFeed(c, this.log, replayLines, greeting, from);
      return;
    }
    let out: Uint8Array[] = c.pendingOut;
    const sb = this.opts.scrollback;
    if (replayLines > 0 && sb) out = [sb.lastLines(replayLines).bytes];
    c.pendingOut = [];
    c.pendingOutBytes = 0;
    const replayed = out.reduce((n, b) => n + b.length, 0);
    if (greeting) this.send(c, greeting(replayed), false);
    for (const b of out) if (c.state === 'attached') this.send(c, b);
    this.counters.clientsTotal += 1;
    this.emit('attach', snapshot(c));
  }

  /**
   * Log mode: where the client starts (`from`, else the start of its replay lines, else where the
   * stream ended when it connected), then its greeting and its feed. The replay and the live
   * output are one read of the same stream: no overlap, no gap.
   */
  private startFeed(c: Client, log: LogStream, replayLines: number, greeting: ((replayed: number, offset?: number) => Uint8Array) | null,
    from: number | undefined): void {
    c.pendingOut = [];
    c.pendingOutBytes = 0;
    const buf = Buffer.allocUnsafe(this.opts.readBufferBytes);
    const start = from !== undefined ? Promise.resolve(Math.min(from, log.end))
      : replayLines > 0 ? lastLinesStart(log, replayLines, this.opts.replayMaxBytes, buf)
        : Promise.resolve(c.startOffset);
    start.then((offset) => {
      if (c.state !== 'attached') return;
      c.feed = new ClientFeed(c.socket, new LogStreamReader(log, offset), buf, {
        sent: (n) => { c.info.bytesOut += n; this.counters.bytesOut += n; },
        skipped: (n) => { c.info.skippedBytes += n; this.counters.bytesSkipped += n; },
        failed: () => this.drop(c, 'LOG_READ_FAILED'),
      });
      if (greeting) this.send(c, greeting(Math.max(0, log.end - offset), offset), false);
      this.counters.clientsTotal += 1;
      this.emit('attach', snapshot(c));
      c.feed.wake();
    }, () => this.drop(c, 'LOG_READ_FAILED'));
  }

  private send(c: Client, bytes: Uint8Array, count = true): void {
    if (bytes.length === 0) return;
    c.socket.write(bytes);
    if (count) {
      c.info.bytesOut += bytes.length;
      this.counters.bytesOut += bytes.length;
    }
    if (c.socket.writableLength > this.opts.clientQueueLimit) this.drop(c, 'SLOW_CONSUMER');
  }

  private refuse(c: Client, message: string): void {
    this.counters.protocolErrors += 1;
    if (c.timer) clearTimeout(c.timer);
    c.socket.end(encodeAttachError({ reason: 'ATTACH_PROTOCOL', message }));
    // A peer that never closes its end would keep the fd: it gets a moment to read the reason.
    setTimeout(() => c.socket.destroy(), REFUSED_GRACE_MS).unref();
    this.gone(c, 'PROTOCOL_ERROR');
  }

  private drop(c: Client, reason: AttachDetachReason): void {
    if (reason === 'SLOW_CONSUMER') this.counters.slowConsumerDisconnects += 1;
    c.socket.destroy();
    this.gone(c, reason);
  }

  /** Forgets a client exactly once; the first reason wins. */
  private gone(c: Client, reason: AttachDetachReason): void {
    if (c.state === 'gone') return;
    const wasAttached = c.state === 'attached';
    c.state = 'gone';
    if (c.timer) clearTimeout(c.timer);
    c.pendingOut = [];
    void c.feed?.close();
    this.clients.delete(c);
    if (this.writer === c) this.writer = null;
    if (wasAttached) this.emit('detach', snapshot(c), reason);
  }
}
