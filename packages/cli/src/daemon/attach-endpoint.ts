// Per-port attach endpoint (Unix socket <runtime dir>/<vm>/<port>.sock) used by the stand-in
// fleet until @vtcon/console's attach sink is wired in. Many readers, at most one writer.
//
// Wire: a client may open with a handshake line `\0VTCON1 {"role":"writer"|"spectator",
// "force":bool,"replayLines":N}\n`; the endpoint answers `\0VTCON1 {"role":...}\n` (or
// `{"error":...}` and closes), then sends the replay followed by live output; writer input goes
// to the guest. A client that sends no handshake (its first byte is not NUL, e.g. conserver's
// `uds` console type) is a plain byte stream: writer if the role is free, else spectator.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { AttachedClient } from './fleet.js';

export const ATTACH_MAGIC = '\0VTCON1 ';

export interface AttachHello {
  role: 'writer' | 'spectator';
  force?: boolean;
  replayLines?: number;
}

interface Client {
  socket: Socket;
  role: 'writer' | 'spectator';
  since: string;
  peer: string;
}

export interface AttachEndpointHooks {
  /** Bytes typed by the writer. */
  onInput(data: Uint8Array): void;
  /** Replay for a new client (last N lines of scrollback). */
  replay(lines: number): Uint8Array;
}

export class AttachEndpoint {
  private server: Server | null = null;
  private readonly clients = new Set<Client>();
  private seq = 0;

  constructor(readonly path: string, private readonly hooks: AttachEndpointHooks) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    rmSync(this.path, { force: true });
    const server = createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  /** Guest output: to every attached client. */
  broadcast(chunk: Uint8Array): void {
    for (const c of this.clients) if (!c.socket.destroyed) c.socket.write(chunk);
  }

  who(): AttachedClient[] {
    return [...this.clients].map((c) => ({ role: c.role, since: c.since, peer: c.peer }));
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.socket.end();
    for (const c of this.clients) c.socket.destroy();
    this.clients.clear();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    rmSync(this.path, { force: true });
  }

  private writer(): Client | undefined {
    for (const c of this.clients) if (c.role === 'writer') return c;
    return undefined;
  }

  private onConnection(socket: Socket): void {
    const peer = `client#${++this.seq}`;
    let client: Client | null = null;
    let pending = Buffer.alloc(0);
    const admit = (hello: AttachHello | null) => {
      const wantWriter = hello ? hello.role === 'writer' : true;
      const current = this.writer();
      let role: Client['role'] = 'spectator';
      if (wantWriter && !current) role = 'writer';
      else if (wantWriter && hello?.force && current) {
        current.role = 'spectator';
        current.socket.write(`\r\n[vtcon: ${peer} took the writer role; you are now read-only]\r\n`);
        role = 'writer';
      } else if (wantWriter && hello) {
        socket.end(`${ATTACH_MAGIC}${JSON.stringify({ error: 'WRITER_TAKEN', message: `${current!.peer} is the writer since ${current!.since}` })}\n`);
        return null;
      }
      const c: Client = { socket, role, since: new Date().toISOString(), peer };
      this.clients.add(c);
      if (hello) socket.write(`${ATTACH_MAGIC}${JSON.stringify({ role })}\n`);
      const replay = this.hooks.replay(hello?.replayLines ?? 0);
      if (replay.length > 0) socket.write(replay);
      return c;
    };
    // A plain byte-stream client (conserver) may stay silent: admit it after a moment so it
    // sees output; a handshaking client sends its line at once.
    const quiet = setTimeout(() => {
      if (!client && pending.length === 0 && !socket.destroyed) client = admit(null);
    }, 150);
    socket.on('data', (chunk: Buffer) => {
      if (!client) {
        clearTimeout(quiet);
        pending = Buffer.concat([pending, chunk]);
        if (pending[0] === 0) {
          const nl = pending.indexOf(0x0a);
          if (nl < 0) {
            if (pending.length > 4096) socket.destroy();
            return;
          }
          const line = pending.subarray(0, nl).toString('utf8');
          let hello: AttachHello;
          try {
            if (!line.startsWith(ATTACH_MAGIC)) throw new Error('bad magic');
            hello = JSON.parse(line.slice(ATTACH_MAGIC.length)) as AttachHello;
          } catch {
            socket.destroy();
            return;
          }
          client = admit(hello);
          chunk = pending.subarray(nl + 1);
        } else {
          client = admit(null);
          chunk = pending;
        }
        pending = Buffer.alloc(0);
        if (!client || chunk.length === 0) return;
      }
      if (client.role === 'writer') this.hooks.onInput(chunk);
    });
    socket.on('close', () => {
      clearTimeout(quiet);
      if (client) this.clients.delete(client);
    });
    socket.on('error', () => socket.destroy());
  }
}
