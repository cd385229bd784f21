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
 * Slow or stalled clients: each client's output queue (Node's socket buffer above the
 * kernel's) is limited to clientQueueLimit bytes. A client over the limit is disconnected
 * with reason 'SLOW_CONSUMER' and counted (stats.slowConsumerDisconnects). Chosen over
 * "skip ahead with a marker" because a silently cut terminal stream leaves the screen in a
 * wrong state; a disconnect is visible and the client can re-attach with replay. A stalled
 * client therefore never stalls the guest or other clients, and memory is bounded by
 * maxClients × (clientQueueLimit + one chunk). The attach sink never applies backpressure
 * to the port (no wantsMore): output to nobody is not a reason to stop the guest.
 *
 * Input flow control: onInput may return false ("backlog full"); the server then stops
 * reading that client's socket (the kernel buffer fills, the client's writes block — no
 * keystroke is lost) until resumeInput() is called.
 *
 * Threading: main thread (node:net). Callbacks run on that thread.
 */
import { EventEmitter } from 'node:events';
import { chmod, lstat, rename, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { peerHungUp } from '@vtcon/transport/native';
import type { PortSink } from './sink.js';
import { ConsoleError } from '../errors.js';
import type { Scrollback } from './scrollback.js';
import {
  ATTACH_HELLO, ATTACH_PROTOCOL_VERSION, FrameDecoder, MAX_HANDSHAKE_LINE, encodeAttachError, encodeAttachReply,
  parseAttachRequest, type AttachRequest, type AttachRole, type ResizeRequest,
} from './attach-protocol.js';

export type AttachClientProtocol = 'raw' | 'vtcon';

export interface AttachClientInfo {
  id: number;
  /** The handshake's name, or `raw-<id>` for raw clients. */
  name: string;
  role: AttachRole;
  protocol: AttachClientProtocol;
  /** Date.now() when the client was classified (attached). */
  since: number;
  /** Output bytes handed to this client's socket (replay included). */
  bytesOut: number;
  /** Input bytes forwarded to the guest from this client. */
  bytesIn: number;
  /** Input bytes discarded because the client was a spectator. */
  inputDiscarded: number;
  /** Bytes queued for this client and not yet taken by the kernel. */
  queuedBytes: number;
}

export type AttachDetachReason =
  | 'CLIENT_CLOSED' | 'SLOW_CONSUMER' | 'PROTOCOL_ERROR' | 'SERVER_CLOSED' | 'KICKED' | 'TOO_MANY_CLIENTS';

export interface AttachServerOptions {
  /** Socket path; a stale socket there is replaced, a live one is an error. */
  path: string;
  /** Receives the writer's input for the guest. Return false to pause reading until resumeInput(). */
  onInput(bytes: Uint8Array, client: AttachClientInfo): boolean | void;
  /** Receives the writer's resize requests (vtcon clients only). */
  onResize?(size: ResizeRequest, client: AttachClientInfo): void;
  /** Source of replay; without it replay requests get 0 bytes. */
  scrollback?: Scrollback;
  /** Lines replayed to raw clients on connect; default 0 (conserver keeps its own log). */
  rawReplayLines?: number;
  /** Per-client output limit in bytes; default 1 MiB. */
  clientQueueLimit?: number;
  /** Default 64; further connections are closed at once (counted). */
  maxClients?: number;
  /** How long a silent new client may stay unclassified; default 200 ms. */
  handshakeGraceMs?: number;
}

export interface AttachStats {
  clientsNow: number;
  clientsTotal: number;
  /** Output bytes handed to client sockets, summed over clients. */
  bytesOut: number;
  /** Input bytes forwarded to onInput. */
  bytesIn: number;
  spectatorBytesDiscarded: number;
  slowConsumerDisconnects: number;
  protocolErrors: number;
  tooManyClients: number;
}

interface Client {
  info: AttachClientInfo;
  socket: Socket;
  state: 'pending' | 'attached' | 'gone';
  pendingIn: Buffer;
  pendingOut: Uint8Array[];
  pendingOutBytes: number;
  decoder: FrameDecoder | null;
  timer: NodeJS.Timeout | null;
  paused: boolean;
}

let tmpCounter = 0;

export class AttachServer extends EventEmitter implements PortSink {
  readonly path: string;
  private readonly server: Server;
  private readonly opts: Required<Omit<AttachServerOptions, 'scrollback' | 'onResize'>> & Pick<AttachServerOptions, 'scrollback' | 'onResize'>;
  private readonly clients = new Set<Client>();
  private writer: Client | null = null;
  private nextId = 1;
  private closed = false;
  private ino = -1;
  /** Polls paused writers for a closed peer (see watchPaused). */
  private hangupTimer: NodeJS.Timeout | null = null;
  private readonly counters: AttachStats = {
    clientsNow: 0, clientsTotal: 0, bytesOut: 0, bytesIn: 0, spectatorBytesDiscarded: 0,
    slowConsumerDisconnects: 0, protocolErrors: 0, tooManyClients: 0,
  };

  private constructor(options: AttachServerOptions) {
    super();
    this.path = options.path;
    this.opts = { rawReplayLines: 0, clientQueueLimit: 1024 * 1024, maxClients: 64, handshakeGraceMs: 200, ...options };
    this.server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (s) => this.accept(s));
  }

  /** Creates the socket: bound under a temporary name, chmod 0600, then renamed onto `path`
   * so no client can ever connect to it with wider permissions. */
  static async listen(options: AttachServerOptions): Promise<AttachServer> {
    const srv = new AttachServer(options);
    await assertReplaceable(options.path);
    const tmp = join(dirname(options.path), `.${basename(options.path)}.${process.pid}.${++tmpCounter}`);
    try {
      await new Promise<void>((resolve, reject) => {
        srv.server.once('error', reject);
        srv.server.listen(tmp, () => {
          srv.server.off('error', reject);
          resolve();
        });
      });
      await chmod(tmp, 0o600);
      await rename(tmp, options.path);
      srv.ino = (await stat(options.path)).ino;
    } catch (e) {
      srv.server.close();
      await unlink(tmp).catch(() => undefined);
      throw new ConsoleError('ATTACH_LISTEN_FAILED', `cannot listen on ${options.path}: ${(e as Error).message}`, { cause: e });
    }
    srv.server.on('error', (e) => srv.emit('server-error', e));
    return srv;
  }

  get stats(): Readonly<AttachStats> {
    return { ...this.counters, clientsNow: this.attachedCount() };
  }

  /** Attached clients (pending ones are not listed), writer first. */
  who(): AttachClientInfo[] {
    const list = [...this.clients].filter((c) => c.state === 'attached').map((c) => this.snapshot(c));
    return list.sort((a, b) => (a.role === b.role ? a.id - b.id : a.role === 'writer' ? -1 : 1));
  }

  /** Sends the port's output to every client (copied once, shared). */
  write(chunk: Uint8Array, _at: number): void {
    if (this.closed) throw new ConsoleError('SINK_CLOSED', `attach ${this.path} is closed`);
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
    this.stopWatchingPaused();
    for (const c of [...this.clients]) this.drop(c, 'SERVER_CLOSED');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const st = await stat(this.path).catch(() => null);
    if (st && st.ino === this.ino) await unlink(this.path).catch(() => undefined);
  }

  private attachedCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.state === 'attached') n++;
    return n;
  }

  private snapshot(c: Client): AttachClientInfo {
    return { ...c.info, queuedBytes: c.socket.writableLength };
  }

  private accept(socket: Socket): void {
    if (this.closed || this.clients.size >= this.opts.maxClients) {
      this.counters.tooManyClients += this.closed ? 0 : 1;
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    const c: Client = {
      info: {
        id, name: `raw-${id}`, role: 'spectator', protocol: 'raw', since: Date.now(),
        bytesOut: 0, bytesIn: 0, inputDiscarded: 0, queuedBytes: 0,
      },
      socket, state: 'pending', pendingIn: Buffer.alloc(0), pendingOut: [], pendingOutBytes: 0,
      decoder: null, timer: null, paused: false,
    };
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
      const head = c.pendingIn.subarray(0, ATTACH_HELLO.length).toString('latin1');
      if (!ATTACH_HELLO.startsWith(head) && !head.startsWith(ATTACH_HELLO)) {
        this.attachRaw(c);
        return;
      }
      if (head.length < ATTACH_HELLO.length) return; // could still become a handshake
      const lf = c.pendingIn.indexOf(0x0a);
      if (lf < 0) {
        if (c.pendingIn.length > MAX_HANDSHAKE_LINE) this.refuse(c, 'handshake line too long');
        return;
      }
      let req: AttachRequest;
      try {
        req = parseAttachRequest(c.pendingIn.subarray(ATTACH_HELLO.length, lf).toString('utf8'));
      } catch (e) {
        this.refuse(c, (e as Error).message);
        return;
      }
      const rest = c.pendingIn.subarray(lf + 1);
      c.pendingIn = Buffer.alloc(0);
      this.attachVtcon(c, req);
      if (rest.length > 0) this.onData(c, rest);
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
        else if (c === this.writer) this.opts.onResize?.(f.size, this.snapshot(c));
      }
      return;
    }
    // A vtcon handshake that arrived after the grace period (loaded machine): upgrade the
    // client instead of typing "VTCON-ATTACH ..." into the guest. The client helper skips
    // the raw output it got before the reply line.
    if (c.info.protocol === 'raw' && c.info.bytesIn === 0 && c.info.inputDiscarded === 0
      && b.subarray(0, ATTACH_HELLO.length).toString('latin1') === ATTACH_HELLO) {
      if (this.writer === c) this.writer = null;
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
    if (this.opts.onInput(bytes, this.snapshot(c)) === false && !c.paused) {
      c.paused = true;
      c.socket.pause();
      this.watchPaused();
    }
  }

  /**
   * A paused socket is not read, so its EOF is never seen: a writer that went away while its
   * input waited for the guest would hold its fd until the guest reads. Once a second, each
   * paused client's fd is asked whether its peer closed (poll POLLHUP; a half-close is not one).
   */
  private watchPaused(): void {
    if (this.hangupTimer) return;
    this.hangupTimer = setInterval(() => {
      let paused = 0;
      for (const c of this.clients) {
        if (!c.paused || c.state === 'gone') continue;
        paused++;
        const fd = (c.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
        let hungUp = false;
        try { hungUp = fd >= 0 && peerHungUp(fd); } catch { hungUp = true; }
        if (hungUp) c.socket.destroy(); // 'close' → gone(CLIENT_CLOSED)
      }
      if (paused === 0) this.stopWatchingPaused();
    }, 1000);
    this.hangupTimer.unref();
  }

  private stopWatchingPaused(): void {
    if (this.hangupTimer) clearInterval(this.hangupTimer);
    this.hangupTimer = null;
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
    this.classify(c, 'vtcon', role, req.replay ?? 0, (replayed) =>
      encodeAttachReply({
        protocol: ATTACH_PROTOCOL_VERSION, id: c.info.id, role, replayed,
        writer: this.writer ? this.writer.info.name : null,
      }));
  }

  /** Moves a pending client to attached: role, greeting (vtcon), replay or pending output. */
  private classify(c: Client, protocol: AttachClientProtocol, role: AttachRole, replayLines: number,
    greeting: ((replayed: number) => Uint8Array) | null): void {
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
        this.emit('role', this.snapshot(prev), 'writer');
      }
    }
    c.info.role = role;
    let out: Uint8Array[] = c.pendingOut;
    const sb = this.opts.scrollback;
    if (replayLines > 0 && sb) out = [sb.lastLines(replayLines).bytes];
    c.pendingOut = [];
    c.pendingOutBytes = 0;
    const replayed = out.reduce((n, b) => n + b.length, 0);
    if (greeting) this.send(c, greeting(replayed), false);
    for (const b of out) if (c.state === 'attached') this.send(c, b);
    this.counters.clientsTotal += 1;
    this.emit('attach', this.snapshot(c));
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
    this.clients.delete(c);
    if (this.writer === c) this.writer = null;
    if (wasAttached) this.emit('detach', this.snapshot(c), reason);
  }
}

/** Refuses to replace a live socket or a non-socket file; a stale socket may be replaced. */
async function assertReplaceable(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st) return;
  if (!st.isSocket()) throw new ConsoleError('ATTACH_PATH_NOT_SOCKET', `${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new ConsoleError('ATTACH_PATH_IN_USE', `${path} is served by a running process`);
}
