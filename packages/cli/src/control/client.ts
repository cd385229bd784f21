// Control API client used by every CLI command. One connection per command; requests are
// matched to replies by id. Connection failures become CliError('UNAVAILABLE'), which the CLI
// turns into exit code 3 with a hint to start a daemon.
import { createConnection, type Socket } from 'node:net';
import { NdjsonSplitter } from './ndjson.js';
import { engineDownHint, readHolderStatus } from '../cli/holder-status.js';
import { CliError } from '../errors.js';
import type { ErrorBody, Reply } from './protocol.js';

/** Longest reply line the client takes (a `logs --files` history, base64). */
const CLIENT_MAX_LINE = 1024 * 1024 * 1024;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onEvent?: (event: string, data: unknown) => void;
  onEnd?: () => void;
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket, readonly path: string) {
    // Replies such as `logs --files` carry a whole log history in one line: a large bound.
    const splitter = new NdjsonSplitter(CLIENT_MAX_LINE);
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      for (const line of lines) this.onLine(line);
    });
    const fail = (err: Error) => {
      this.closedError = err;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        if (p.onEnd) p.onEnd();
        else p.reject(err);
      }
    };
    socket.on('close', () => fail(new CliError('UNAVAILABLE', `the daemon at ${path} closed the connection`)));
    socket.on('error', (err) => fail(new CliError('UNAVAILABLE', `control socket ${path}: ${err.message}`)));
  }

  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new CliError('UNAVAILABLE', `no answer from ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, path));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // Under a holder the VMs may be fine while the engine restarts: say so (the exit code stays 3).
        const held = readHolderStatus(path);
        reject(new CliError('UNAVAILABLE', `no daemon at ${path} (${err.code ?? err.message})`, held ? { hint: engineDownHint(held) } : {}));
      });
    });
  }

  private onLine(line: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      return;
    }
    const p = this.pending.get(Number(reply.id));
    if (!p) return;
    if ('error' in reply) {
      this.pending.delete(Number(reply.id));
      const e: ErrorBody = reply.error;
      p.reject(CliError.fromWire(e));
    } else if ('result' in reply) {
      if (!p.onEvent) this.pending.delete(Number(reply.id));
      p.resolve(reply.result);
    } else if ('event' in reply) {
      p.onEvent?.(reply.event, reply.data);
    } else if ('end' in reply) {
      this.pending.delete(Number(reply.id));
      p.onEnd?.();
    }
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /**
   * Starts a streaming method. Resolves with the first result; events arrive through onEvent;
   * `done` settles when the daemon ends the stream or the connection closes.
   */
  stream<T = unknown>(method: string, params: Record<string, unknown>, onEvent: (event: string, data: unknown) => void): { first: Promise<T>; done: Promise<void> } {
    const id = this.nextId++;
    let endResolve!: () => void;
    const done = new Promise<void>((r) => (endResolve = r));
    const first = new Promise<T>((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject: (e) => {
          endResolve();
          reject(e);
        },
        onEvent,
        onEnd: endResolve,
      });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
    return { first, done };
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
