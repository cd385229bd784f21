// Client side of the attach socket protocol defined by @vtcon/console
// (packages/console/src/sink/attach-protocol.ts): one handshake line each way, then raw output
// from the server and framed input from the client (u8 type | u32 BE length | payload;
// type 0 = input bytes, type 1 = resize JSON {"cols","rows"}).
export const ATTACH_HELLO = 'VTCON-ATTACH ';
export const ATTACH_OK = 'VTCON-OK ';
export const ATTACH_ERR = 'VTCON-ERR ';
export const FRAME_DATA = 0;
export const FRAME_RESIZE = 1;
export const MAX_FRAME_PAYLOAD = 64 * 1024;

export interface AttachRequest {
  role: 'writer' | 'spectator' | 'force-writer';
  replay?: number;
  name?: string;
}

export interface AttachReply {
  protocol: number;
  id: number;
  role: 'writer' | 'spectator';
  writer: string | null;
  replayed: number;
}

export function encodeHello(req: AttachRequest): Buffer {
  return Buffer.from(`${ATTACH_HELLO}${JSON.stringify(req)}\n`, 'utf8');
}

export function encodeFrame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Input bytes as data frames, split at the protocol's payload limit. */
export function encodeInput(bytes: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += MAX_FRAME_PAYLOAD) parts.push(encodeFrame(FRAME_DATA, bytes.subarray(i, i + MAX_FRAME_PAYLOAD)));
  return Buffer.concat(parts);
}

export function encodeResize(cols: number, rows: number): Buffer {
  return encodeFrame(FRAME_RESIZE, Buffer.from(JSON.stringify({ cols, rows }), 'utf8'));
}

export type ParsedReply = { ok: true; reply: AttachReply } | { ok: false; reason: string; message: string };

export function parseReply(line: string): ParsedReply {
  if (line.startsWith(ATTACH_OK)) return { ok: true, reply: JSON.parse(line.slice(ATTACH_OK.length)) as AttachReply };
  if (line.startsWith(ATTACH_ERR)) {
    const e = JSON.parse(line.slice(ATTACH_ERR.length)) as { reason: string; message: string };
    return { ok: false, reason: e.reason, message: e.message };
  }
  throw new Error(`unexpected reply from the attach socket: ${JSON.stringify(line.slice(0, 80))}`);
}
