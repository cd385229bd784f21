// Per-port attach endpoint for the simulated fleet, speaking @vtcon/console's attach protocol
// (see cli/attach-wire.ts). The real fleet uses @vtcon/console's AttachServer; this small copy
// exists so `serve --simulate` / `demo --simulate` work where the device stack does not load
// (no native addon, lower packages not built). Many readers, at most
// one writer; a 'writer' request is downgraded to spectator while another writer holds the
// role; 'force-writer' takes it. A client that sends no handshake within 200 ms (conserver's
// `uds` console, socat) is a raw byte stream: writer if free, else spectator.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ATTACH_HELLO, FRAME_DATA, FRAME_RESIZE, MAX_FRAME_PAYLOAD, type AttachRequest } from '../cli/attach-wire.js';
import type { AttachedClient } from './fleet.js';

interface Client {
  id: number;
  socket: Socket;
  role: 'writer' | 'spectator';
  name: string;
  since: string;
  framed: boolean;
}

export interface AttachEndpointHooks {
  onInput(data: Uint8Array): void;
  onResize(cols: number, rows: number): void;
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

  broadcast(chunk: Uint8Array): void {
    for (const c of this.clients) if (!c.socket.destroyed) c.socket.write(chunk);
  }

  who(): AttachedClient[] {
    return [...this.clients].map((c) => ({ role: c.role, since: c.since, peer: c.name }));
  }

  async close(): Promise<void> {
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

  private admit(socket: Socket, req: AttachRequest | null): Client {
    const id = ++this.seq;
    const current = this.writer();
    let role: Client['role'] = 'spectator';
    if (req === null || req.role === 'writer') role = current ? 'spectator' : 'writer';
    else if (req.role === 'force-writer') {
      if (current) {
        current.role = 'spectator';
        current.socket.write(`\r\n[vtcon: the writer role was taken by ${req.name || `client ${id}`}; you are read-only now]\r\n`);
      }
      role = 'writer';
    }
    const c: Client = { id, socket, role, name: req?.name || `raw-${id}`, since: new Date().toISOString(), framed: req !== null };
    this.clients.add(c);
    const replay = this.hooks.replay(req?.replay ?? 0);
    if (req) {
      const w = this.writer();
      socket.write(`VTCON-OK ${JSON.stringify({ protocol: 1, id, role, writer: w ? w.name : null, replayed: replay.length })}\n`);
    }
    if (replay.length > 0) socket.write(replay);
    return c;
  }

  private onConnection(socket: Socket): void {
    let client: Client | null = null;
    let buf: Buffer = Buffer.alloc(0);
    const quiet = setTimeout(() => {
      if (!client && buf.length === 0 && !socket.destroyed) client = this.admit(socket, null);
    }, 200);
    const input = (bytes: Uint8Array) => {
      if (client?.role === 'writer' && bytes.length > 0) this.hooks.onInput(bytes);
    };
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (!client) {
        clearTimeout(quiet);
        const head = buf.subarray(0, ATTACH_HELLO.length).toString('latin1');
        // A prefix of the hello may arrive alone; wait for the rest before deciding.
        if (buf.length < ATTACH_HELLO.length && ATTACH_HELLO.startsWith(head)) return;
        if (head !== ATTACH_HELLO) {
          client = this.admit(socket, null);
        } else {
          const lf = buf.indexOf(0x0a);
          if (lf < 0) {
            if (buf.length > 4096) socket.destroy();
            return;
          }
          let req: AttachRequest;
          try {
            req = JSON.parse(buf.subarray(ATTACH_HELLO.length, lf).toString('utf8')) as AttachRequest;
          } catch {
            socket.end(`VTCON-ERR ${JSON.stringify({ reason: 'ATTACH_PROTOCOL', message: 'handshake is not JSON' })}\n`);
            return;
          }
          client = this.admit(socket, req);
          buf = buf.subarray(lf + 1);
        }
      }
      if (!client.framed) {
        input(buf);
        buf = Buffer.alloc(0);
        return;
      }
      let off = 0;
      while (buf.length - off >= 5) {
        const type = buf[off]!;
        const len = buf.readUInt32BE(off + 1);
        if ((type !== FRAME_DATA && type !== FRAME_RESIZE) || len > MAX_FRAME_PAYLOAD) {
          socket.destroy();
          return;
        }
        if (buf.length - off - 5 < len) break;
        const payload = buf.subarray(off + 5, off + 5 + len);
        off += 5 + len;
        if (type === FRAME_DATA) input(payload);
        else if (client.role === 'writer') {
          try {
            const { cols, rows } = JSON.parse(payload.toString('utf8')) as { cols: number; rows: number };
            if (Number.isInteger(cols) && Number.isInteger(rows) && cols >= 1 && rows >= 1 && cols <= 65535 && rows <= 65535) this.hooks.onResize(cols, rows);
          } catch {
            socket.destroy();
            return;
          }
        }
      }
      buf = buf.subarray(off);
    });
    socket.on('close', () => {
      clearTimeout(quiet);
      if (client) this.clients.delete(client);
    });
    socket.on('error', () => socket.destroy());
  }
}
