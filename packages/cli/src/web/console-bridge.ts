// One browser terminal: a WebSocket bridged to the port's attach socket with @vtcon/console's
// attach client (the same handshake and frames `vtcon attach` uses).
//
// Browser → server: binary messages are keystrokes; text messages are JSON
//   {"type":"resize","cols":C,"rows":R} | {"type":"break"} | {"type":"pause"} | {"type":"resume"}
// Server → browser: binary messages are console output (replay first, then live); text messages
//   {"type":"hello","role":"writer"|"spectator","writer":...,"replayed":N} and
//   {"type":"closed","reason":"slow"|"ended"} before the server closes.
//
// Roles: a read session always attaches as spectator and its keystrokes, resizes and breaks are
// dropped here, before the daemon, which drops a spectator's input too.
//
// Flow control (a slow browser is paused, then dropped; never the guest): bytes handed to the
// WebSocket and not yet written to its TCP socket are counted. Above HIGH_WATER, or while the
// page says its terminal is behind ("pause"), this bridge stops reading the attach socket. The
// daemon's attach server then lets this client lag behind in the port log (log mode: one buffer
// per client, resumed where it stopped), or with timestamps on queues up to its clientQueueLimit
// and disconnects it (SLOW_CONSUMER) past that; never slowing the port. Memory here: at most
// HIGH_WATER plus one chunk per terminal.
import type { AttachConnection } from '@vtcon/console';
import type { WebSocket } from 'ws';
import { loadConsole } from '../daemon/stack.js';
import type { WebRole } from './web-config.js';

export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;
/** Close codes (4000-4999 are the application's). */
export const CLOSE_SLOW = 4008;
export const CLOSE_ENDED = 4000;
export const CLOSE_REFUSED = 4003;

export interface BridgeOptions {
  attachPath: string;
  session: WebRole;
  /** Shown by `vtcon who`. */
  name: string;
  replay: number;
  /** Sends the VM's break sequence (control API `break`); called for a writer only. */
  sendBreak(): Promise<unknown>;
}

type Control = { type: 'resize'; cols: number; rows: number } | { type: 'break' } | { type: 'pause' } | { type: 'resume' };

/** Parses a text message from the page; null for anything malformed (ignored, not fatal). */
export function parseControl(text: string): Control | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const side = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 0xffff;
  if (o.type === 'resize') return side(o.cols) && side(o.rows) ? { type: 'resize', cols: o.cols, rows: o.rows } : null;
  if (o.type === 'break' || o.type === 'pause' || o.type === 'resume') return { type: o.type };
  return null;
}

export async function bridgeConsole(ws: WebSocket, opts: BridgeOptions): Promise<void> {
  const { connectAttach } = await loadConsole();
  let conn: AttachConnection;
  try {
    conn = await connectAttach(opts.attachPath, { role: opts.session === 'write' ? 'writer' : 'spectator', replay: opts.replay, name: opts.name });
  } catch (err) {
    sendJson(ws, { type: 'closed', reason: 'refused', message: (err as Error).message });
    ws.close(CLOSE_REFUSED, 'attach refused');
    return;
  }
  const { socket, reply } = conn;
  const writer = reply.role === 'writer';
  sendJson(ws, { type: 'hello', role: reply.role, writer: reply.writer, replayed: reply.replayed });

  let queued = 0;
  let pausedByPage = false;
  let paused = false;
  const flow = () => {
    const want = pausedByPage || queued > HIGH_WATER || (paused && queued > LOW_WATER);
    if (want && !paused) socket.pause();
    else if (!want && paused) socket.resume();
    paused = want;
  };
  const forward = (chunk: Uint8Array) => {
    if (chunk.length === 0 || ws.readyState !== ws.OPEN) return;
    queued += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      queued -= chunk.length;
      flow();
    });
    flow();
  };
  forward(conn.initial);
  socket.on('data', forward);
  socket.on('error', () => socket.destroy());
  socket.once('close', () => {
    // Closed while we held it back: the daemon dropped us as a slow consumer.
    sendJson(ws, { type: 'closed', reason: paused ? 'slow' : 'ended' });
    ws.close(paused ? CLOSE_SLOW : CLOSE_ENDED, paused ? 'too slow' : 'console closed');
  });
  socket.resume();

  ws.on('message', (data, isBinary) => {
    const bytes = toBytes(data);
    if (isBinary) {
      if (opts.session === 'write' && writer) conn.sendInput(bytes);
      return;
    }
    const msg = parseControl(Buffer.from(bytes).toString('utf8'));
    if (!msg) return;
    if (msg.type === 'pause' || msg.type === 'resume') {
      pausedByPage = msg.type === 'pause';
      flow();
    } else if (opts.session === 'write' && writer) {
      if (msg.type === 'resize') conn.sendResize({ cols: msg.cols, rows: msg.rows });
      else void opts.sendBreak().catch(() => undefined);
    }
  });
  ws.once('close', () => socket.destroy());
}

function sendJson(ws: WebSocket, v: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(v));
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
