// Control API server: a Unix socket (mode 0600, so only the daemon's user can drive the fleet)
// speaking newline-delimited JSON. Requests on one connection may be pipelined; each reply
// carries the request id. Streaming methods reply once, then send events until the client
// disconnects or the stream ends.
//
// Peers are bounded: a request line over MAX_LINE_BYTES gets a LINE_TOO_LONG error and the
// connection ends; a connection whose unsent replies exceed maxQueuedBytes (a client that does not
// read its `logs -f`) gets a SLOW_CONSUMER error line, its streams stop and the connection ends,
// instead of the daemon buffering for it without limit. At most MAX_CONNECTIONS connections are
// open (each is an fd of the daemon's, which the VMs' reconnects need too; an idle one makes room
// for a new one) and MAX_STREAMS streams over all of them (each costs work per event); one
// connection's pipelined requests run MAX_INFLIGHT at a time.
import { setMaxListeners } from 'node:events';
import { chmodSync, lstatSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { makePrivateDir } from '../config/paths.js';
import { MAX_JSON_DEPTH, MAX_LINE_BYTES, NdjsonSplitter, nestsDeeperThan } from './ndjson.js';
import { CliError } from '../errors.js';
import type { ErrorBody, Reply, Request } from './protocol.js';

/** Unsent reply bytes one connection may have queued before it is ended as a slow consumer. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How long an ended slow consumer may take to read its last bytes before it is cut off. */
const SLOW_CONSUMER_GRACE_MS = 5000;
/** Connections open at once; at the cap a new one takes the place of the longest idle one. */
export const MAX_CONNECTIONS = 128;
/** Streams (logs.follow, stats.watch) open at once over all connections: each costs work per event. */
export const MAX_STREAMS = 256;
/** Requests of one connection in progress at once (a `send` waiting for delivery is in progress). */
export const MAX_INFLIGHT = 16;
/** Pipelined requests of one connection waiting behind those; past it the connection ends. */
export const MAX_QUEUED_REQUESTS = 1024;

export interface ControlServerOptions {
  maxQueuedBytes?: number;
  maxLineBytes?: number;
  maxConnections?: number;
  maxStreams?: number;
  maxInflight?: number;
}

/** What one connection is doing: idle ones (nothing in flight, no stream) may be evicted. */
interface Conn {
  socket: Socket;
  inflight: number;
  streams: number;
  /** When it last completed a request line or got a reply (Date.now()). */
  lastActive: number;
  /** Last words, then the connection ends (`now`: its fd is closed at once, no grace to read them). */
  endWith(error: ErrorBody, now?: boolean): void;
  /** Aborted when the connection ends: requests still in progress stop waiting. */
  gone: AbortController;
}

export interface StreamSink {
  event(name: string, data: unknown): void;
  end(): void;
  /** Called once when the client goes away or the stream is ended. */
  onClose(fn: () => void): void;
}

/** `signal` is aborted when the client's connection ends (a handler that waits stops waiting). */
export type UnaryHandler = (params: Record<string, unknown>, ctx?: { signal: AbortSignal }) => unknown;
export type StreamHandler = (params: Record<string, unknown>, sink: StreamSink) => unknown;

export interface Handlers {
  unary: Record<string, UnaryHandler>;
  stream: Record<string, StreamHandler>;
  /** Maps a thrown error to the wire error (CliError's code and reason). */
  toError(err: unknown): ErrorBody;
}

export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly conns = new Set<Conn>();
  private streams = 0;

  private readonly maxQueued: number;
  private readonly maxLine: number;
  private readonly maxConns: number;
  private readonly maxStreams: number;
  private readonly maxInflight: number;

  constructor(private readonly path: string, private readonly handlers: Handlers, opts: ControlServerOptions = {}) {
    this.maxQueued = opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    this.maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
    this.maxConns = opts.maxConnections ?? MAX_CONNECTIONS;
    this.maxStreams = opts.maxStreams ?? MAX_STREAMS;
    this.maxInflight = opts.maxInflight ?? MAX_INFLIGHT;
  }

  async listen(): Promise<void> {
    makePrivateDir(dirname(this.path));
    // A stale socket from a crashed daemon would make listen() fail with EADDRINUSE; the caller
    // checked that no live daemon answers on it before we get here. Anything else at the path is
    // the operator's: refused, never deleted.
    refuseNonSocket(this.path);
    // Bound under a temporary name, chmod 0600, then renamed onto the path: no client ever sees
    // the socket with the umask's mode.
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    rmSync(tmp, { force: true });
    const server = createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.path);
    } catch (err) {
      server.close();
      rmSync(tmp, { force: true });
      throw err;
    }
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (lstatSync(this.path).isSocket()) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  /**
   * Admission: each connection holds an fd of the daemon's. At the cap, the connection idle
   * longest (nothing in flight, no stream: a client that never spoke, a slowloris still on its
   * first line) is closed to make room, so `vtcon ls` gets in however many idle connections a
   * buggy client left open; when every connection is busy, the new one is refused. Both are closed
   * at once after one error line: a flood of connections holds no more than the cap.
   */
  private admit(socket: Socket): boolean {
    const error: ErrorBody = { code: 'UNAVAILABLE', reason: 'TOO_MANY_CONNECTIONS', message: `${this.maxConns} control connections are open` };
    if (this.conns.size >= this.maxConns) {
      let idlest: Conn | null = null;
      for (const c of this.conns) {
        if (c.inflight === 0 && c.streams === 0 && (!idlest || c.lastActive < idlest.lastActive)) idlest = c;
      }
      idlest?.endWith({ ...error, message: `${error.message}; this idle one made room for a new one` }, true);
    }
    if (this.conns.size < this.maxConns) return true;
    socket.on('error', () => undefined);
    // Written at once (a new socket's buffer is empty), then the fd is closed.
    socket.end(JSON.stringify({ id: 0, error: { ...error, message: `${error.message}, all busy; try again` } }) + '\n');
    socket.destroy();
    return false;
  }

  private onConnection(socket: Socket): void {
    if (!this.admit(socket)) return;
    this.sockets.add(socket);
    const splitter = new NdjsonSplitter(this.maxLine);
    const closers: (() => void)[] = [];
    let ending = false;
    /** Last words, then the connection ends: its streams stop now, the socket after a grace. */
    const endWith = (error: ErrorBody, now = false) => {
      if (ending) return;
      ending = true;
      this.conns.delete(conn);
      conn.gone.abort();
      for (const fn of closers.splice(0)) fn();
      socket.pause();
      socket.end(JSON.stringify({ id: 0, error }) + '\n');
      if (now) socket.destroy();
      else setTimeout(() => socket.destroy(), SLOW_CONSUMER_GRACE_MS).unref();
    };
    const conn: Conn = { socket, inflight: 0, streams: 0, lastActive: Date.now(), endWith, gone: new AbortController() };
    setMaxListeners(this.maxInflight + 1, conn.gone.signal); // one per request in progress
    this.conns.add(conn);
    const send = (reply: Reply) => {
      if (socket.destroyed || ending) return;
      conn.lastActive = Date.now();
      // One reply may be large (a log history); replies piling up behind it may not.
      if (socket.writableLength > this.maxQueued) {
        endWith({
          code: 'UNAVAILABLE', reason: 'SLOW_CONSUMER',
          message: `this connection did not read its replies (${socket.writableLength} bytes queued, at most ${this.maxQueued}); its streams are ended`,
        });
        return;
      }
      socket.write(JSON.stringify(reply) + '\n');
    };
    // Pipelined requests run at most maxInflight at a time and at most MAX_QUEUED_REQUESTS wait
    // behind them: a client cannot start unbounded work. The socket is still read meanwhile, so
    // a client that goes away is seen at once, and its requests still waiting are dropped.
    const queued: string[] = [];
    const next = () => {
      while (!ending && queued.length > 0 && conn.inflight < this.maxInflight) {
        conn.lastActive = Date.now();
        conn.inflight += 1;
        void this.dispatch(queued.shift()!, send, closers, conn).finally(() => {
          conn.inflight -= 1;
          next();
        });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (ending) return;
      try {
        for (const line of splitter.push(chunk)) queued.push(line);
      } catch (err) {
        endWith(this.handlers.toError(err));
        return;
      }
      if (queued.length > MAX_QUEUED_REQUESTS) {
        queued.length = 0;
        endWith({ code: 'UNAVAILABLE', reason: 'TOO_MANY_REQUESTS', message: `more than ${MAX_QUEUED_REQUESTS} requests waited behind ${this.maxInflight} in progress; the connection is closed` });
        return;
      }
      next();
    });
    const cleanup = () => {
      this.sockets.delete(socket);
      this.conns.delete(conn);
      conn.gone.abort();
      for (const fn of closers.splice(0)) fn();
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
  }

  private async dispatch(line: string, send: (r: Reply) => void, closers: (() => void)[], conn: Conn): Promise<void> {
    let req: Request;
    try {
      if (nestsDeeperThan(line)) throw new CliError('BAD_REQUEST', `a request nests deeper than ${MAX_JSON_DEPTH} levels`);
      req = JSON.parse(line) as Request;
      if (typeof req !== 'object' || req === null || typeof req.method !== 'string' || (typeof req.id !== 'number' && typeof req.id !== 'string')) {
        throw new CliError('BAD_REQUEST', 'a request is {"id": number|string, "method": string, "params"?: object}');
      }
    } catch (err) {
      send({ id: 0, error: err instanceof CliError ? { code: err.code, message: err.message, reason: err.reason } : { code: 'BAD_REQUEST', message: 'request is not valid JSON' } });
      return;
    }
    const params = (req.params && typeof req.params === 'object' ? req.params : {}) as Record<string, unknown>;
    const unary = Object.hasOwn(this.handlers.unary, req.method) ? this.handlers.unary[req.method] : undefined;
    const stream = Object.hasOwn(this.handlers.stream, req.method) ? this.handlers.stream[req.method] : undefined;
    try {
      if (unary) {
        send({ id: req.id, result: (await unary(params, { signal: conn.gone.signal })) ?? null });
      } else if (stream) {
        if (this.streams >= this.maxStreams) {
          throw new CliError('TOO_MANY_STREAMS', `${this.maxStreams} streams are open; end one (or its connection) first`);
        }
        this.streams += 1;
        conn.streams += 1;
        let closed = false;
        const onClose: (() => void)[] = [];
        const finish = () => {
          if (closed) return;
          closed = true;
          this.streams -= 1;
          conn.streams -= 1;
          closers.splice(closers.indexOf(finish), 1);
          for (const fn of onClose.splice(0)) fn();
        };
        closers.push(finish);
        const sink: StreamSink = {
          event: (name, data) => {
            if (!closed) send({ id: req.id, event: name, data });
          },
          end: () => {
            if (closed) return;
            send({ id: req.id, end: true });
            finish();
          },
          onClose: (fn) => onClose.push(fn),
        };
        let first: unknown;
        try {
          first = await stream(params, sink);
        } catch (err) {
          finish(); // refused (bad params, no such port): it holds no stream
          throw err;
        }
        if (!closed) send({ id: req.id, result: first ?? { stream: true } });
      } else {
        throw new CliError('UNKNOWN_METHOD', `unknown method "${req.method}" (see API.md)`);
      }
    } catch (err) {
      send({ id: req.id, error: this.handlers.toError(err) });
    }
  }
}

/** Throws CONTROL_PATH_NOT_SOCKET when something other than a socket is at `path`. */
function refuseNonSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new CliError('CONTROL_PATH_NOT_SOCKET', `daemon.control ${path} exists and is not a socket; refusing to replace it (move it away or set another daemon.control)`);
  }
  rmSync(path, { force: true });
}
