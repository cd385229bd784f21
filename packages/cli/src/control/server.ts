// Control API server: a Unix socket (mode 0600, so only the daemon's user can drive the fleet)
// speaking newline-delimited JSON. Requests on one connection may be pipelined; each reply
// carries the request id. Streaming methods reply once, then send events until the client
// disconnects or the stream ends.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ApiError, LineSplitter, type ErrorBody, type Reply, type Request } from './protocol.js';

export interface StreamSink {
  event(name: string, data: unknown): void;
  end(): void;
  /** Called once when the client goes away or the stream is ended. */
  onClose(fn: () => void): void;
}

export type UnaryHandler = (params: Record<string, unknown>) => unknown;
export type StreamHandler = (params: Record<string, unknown>, sink: StreamSink) => unknown;

export interface Handlers {
  unary: Record<string, UnaryHandler>;
  stream: Record<string, StreamHandler>;
  /** Maps a thrown error to the wire error (FleetError etc.). */
  toError(err: unknown): ErrorBody;
}

export class ControlServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly path: string, private readonly handlers: Handlers) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    // A stale socket from a crashed daemon would make listen() fail with EADDRINUSE; the caller
    // checked that no live daemon answers on it before we get here.
    rmSync(this.path, { force: true });
    const server = createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter();
    const closers: (() => void)[] = [];
    const send = (reply: Reply) => {
      if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
    };
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        send({ id: 0, error: this.handlers.toError(err) });
        socket.destroy();
        return;
      }
      for (const line of lines) void this.dispatch(line, send, closers);
    });
    const cleanup = () => {
      this.sockets.delete(socket);
      for (const fn of closers.splice(0)) fn();
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
  }

  private async dispatch(line: string, send: (r: Reply) => void, closers: (() => void)[]): Promise<void> {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
      if (typeof req !== 'object' || req === null || typeof req.method !== 'string' || (typeof req.id !== 'number' && typeof req.id !== 'string')) {
        throw new ApiError('BAD_REQUEST', 'a request is {"id": number|string, "method": string, "params"?: object}');
      }
    } catch (err) {
      send({ id: 0, error: err instanceof ApiError ? { code: err.code, message: err.message } : { code: 'BAD_REQUEST', message: 'request is not valid JSON' } });
      return;
    }
    const params = (req.params && typeof req.params === 'object' ? req.params : {}) as Record<string, unknown>;
    const unary = Object.hasOwn(this.handlers.unary, req.method) ? this.handlers.unary[req.method] : undefined;
    const stream = Object.hasOwn(this.handlers.stream, req.method) ? this.handlers.stream[req.method] : undefined;
    try {
      if (unary) {
        send({ id: req.id, result: (await unary(params)) ?? null });
      } else if (stream) {
        let closed = false;
        const onClose: (() => void)[] = [];
        const finish = () => {
          if (closed) return;
          closed = true;
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
        const first = await stream(params, sink);
        if (!closed) send({ id: req.id, result: first ?? { stream: true } });
      } else {
        throw new ApiError('UNKNOWN_METHOD', `unknown method "${req.method}" (see API.md)`);
      }
    } catch (err) {
      send({ id: req.id, error: this.handlers.toError(err) });
    }
  }
}
