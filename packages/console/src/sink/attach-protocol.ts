/**
 * The attach socket's wire protocol. Two modes share one socket:
 *
 * Raw (default): nothing is negotiated. Server→client is the port's output byte stream,
 * client→server is keyboard input. This is what conserver's `uds` console type and
 * `socat - UNIX-CONNECT:path` speak.
 *
 * vtcon handshake (optional, used by `vtcon attach`): the client's first bytes are one line
 *     VTCON-ATTACH {"role":"writer"|"spectator"|"force-writer","replay":N,"name":"...","from":OFFSET?}\n
 * and the server answers one line
 *     VTCON-OK {"protocol":1,"id":7,"role":"writer"|"spectator","writer":"name"|null,"replayed":BYTES,"offset":OFFSET?}\n
 * or  VTCON-ERR {"reason":"...","message":"..."}\n   (then closes)
 * after which server→client stays raw (replay, then live output). Client→server switches
 * to frames, because terminal input is arbitrary bytes and a resize must not be confused
 * with them:
 *     u8 type | u32 big-endian payload length | payload
 *     type 0 FRAME_DATA    payload = input bytes for the guest
 *     type 1 FRAME_RESIZE  payload = UTF-8 JSON {"cols":C,"rows":R}, integers 1..65535, ≤ MAX_RESIZE_PAYLOAD bytes
 * Frames are limited to MAX_FRAME_PAYLOAD bytes; anything else is a protocol error that
 * disconnects that client only.
 */
import { ConsoleError } from '../errors.js';

export const ATTACH_PROTOCOL_VERSION = 1;
export const ATTACH_HELLO = 'VTCON-ATTACH ';
export const ATTACH_OK = 'VTCON-OK ';
export const ATTACH_ERR = 'VTCON-ERR ';
/** Longest handshake line accepted (either direction), LF included. */
export const MAX_HANDSHAKE_LINE = 4096;
/** Largest frame payload; a paste larger than this is split by the client. */
export const MAX_FRAME_PAYLOAD = 64 * 1024;
/**
 * Largest resize payload: {"cols":65535,"rows":65535} with room for spaces. Refused before
 * JSON.parse, which costs ~2 µs per nesting level: 64 KiB of brackets would block the thread.
 */
export const MAX_RESIZE_PAYLOAD = 256;
export const FRAME_DATA = 0;
export const FRAME_RESIZE = 1;
const FRAME_HEADER = 5;

export type AttachRole = 'writer' | 'spectator';
export type AttachRequestRole = AttachRole | 'force-writer';

export interface AttachRequest {
  role: AttachRequestRole;
  /** Lines of scrollback to replay before the live stream; default 0. */
  replay?: number;
  /** Shown by `vtcon who`, e.g. "alice@host"; at most 128 characters. */
  name?: string;
  /**
   * Resume at this stream offset (a previous reply's `offset` plus the bytes received since)
   * instead of replaying lines: no gap, no repeat across a reconnect. Log mode only.
   */
  from?: number;
}

export interface AttachReply {
  protocol: number;
  /** Client id, as listed by who(). */
  id: number;
  /** The role granted: 'writer' may be downgraded to 'spectator' when another writer holds it. */
  role: AttachRole;
  /** Name of the writer after this attach (null if none). */
  writer: string | null;
  /** Bytes of scrollback replayed right after this line. */
  replayed: number;
  /** Log mode: the stream offset of the first output byte after this line (see `from`). */
  offset?: number;
}

export interface AttachErrorReply {
  reason: string;
  message: string;
}

export interface ResizeRequest {
  cols: number;
  rows: number;
}

export type AttachFrame = { type: 'data'; bytes: Uint8Array } | { type: 'resize'; size: ResizeRequest };

const protocolError = (message: string) => new ConsoleError('ATTACH_PROTOCOL', message, { scope: 'connection' });

export function encodeAttachRequest(req: AttachRequest): Uint8Array {
  return Buffer.from(`${ATTACH_HELLO}${JSON.stringify(req)}\n`, 'utf8');
}

/** What a pending client's first bytes say: raw, not yet known, a handshake (and what follows it), or refused. */
export type Handshake =
  | { kind: 'raw' }
  | { kind: 'wait' }
  | { kind: 'refuse'; message: string }
  | { kind: 'vtcon'; request: AttachRequest; rest: Buffer };

/** Reads a pending client's bytes so far (`pending`): a handshake line or a raw client. */
export function readHandshake(pending: Buffer): Handshake {
  const head = pending.subarray(0, ATTACH_HELLO.length).toString('latin1');
  if (!ATTACH_HELLO.startsWith(head) && !head.startsWith(ATTACH_HELLO)) return { kind: 'raw' };
  if (head.length < ATTACH_HELLO.length) return { kind: 'wait' }; // could still become a handshake
  const lf = pending.indexOf(0x0a);
  if (lf < 0) return pending.length > MAX_HANDSHAKE_LINE ? { kind: 'refuse', message: 'handshake line too long' } : { kind: 'wait' };
  try {
    return { kind: 'vtcon', request: parseAttachRequest(pending.subarray(ATTACH_HELLO.length, lf).toString('utf8')), rest: pending.subarray(lf + 1) };
  } catch (e) {
    return { kind: 'refuse', message: (e as Error).message };
  }
}

/** Parses the JSON after ATTACH_HELLO (line without LF). Throws ConsoleError('ATTACH_PROTOCOL'). */
export function parseAttachRequest(json: string): AttachRequest {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw protocolError('handshake is not JSON');
  }
  if (typeof v !== 'object' || v === null) throw protocolError('handshake must be a JSON object');
  const o = v as Record<string, unknown>;
  if (o.role !== 'writer' && o.role !== 'spectator' && o.role !== 'force-writer') {
    throw protocolError(`role must be writer, spectator or force-writer`);
  }
  const replay = o.replay ?? 0;
  if (typeof replay !== 'number' || !Number.isSafeInteger(replay) || replay < 0 || replay > 1_000_000) {
    throw protocolError('replay must be an integer 0..1000000');
  }
  const name = o.name ?? '';
  if (typeof name !== 'string' || name.length > 128 || /[\p{Cc}]/u.test(name)) {
    throw protocolError('name must be a string of at most 128 printable characters');
  }
  const from = o.from;
  if (from !== undefined && (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0)) {
    throw protocolError('from must be a non-negative integer');
  }
  return { role: o.role, replay, name, ...(from !== undefined ? { from } : {}) };
}

export function encodeAttachReply(reply: AttachReply): Uint8Array {
  return Buffer.from(`${ATTACH_OK}${JSON.stringify(reply)}\n`, 'utf8');
}

export function encodeAttachError(err: AttachErrorReply): Uint8Array {
  return Buffer.from(`${ATTACH_ERR}${JSON.stringify(err)}\n`, 'utf8');
}

/** Parses the server's reply line (without LF). Throws ConsoleError('ATTACH_PROTOCOL') if it is neither. */
export function parseAttachReply(line: string): { ok: true; reply: AttachReply } | { ok: false; error: AttachErrorReply } {
  try {
    if (line.startsWith(ATTACH_OK)) return { ok: true, reply: JSON.parse(line.slice(ATTACH_OK.length)) as AttachReply };
    if (line.startsWith(ATTACH_ERR)) return { ok: false, error: JSON.parse(line.slice(ATTACH_ERR.length)) as AttachErrorReply };
  } catch {
    // fall through
  }
  throw protocolError(`unexpected reply line: ${JSON.stringify(line.slice(0, 80))}`);
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_FRAME_PAYLOAD) throw protocolError(`frame payload ${payload.length} > ${MAX_FRAME_PAYLOAD}`);
  const out = new Uint8Array(FRAME_HEADER + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, FRAME_HEADER);
  return out;
}

/** Data frames for `bytes`, split at MAX_FRAME_PAYLOAD. */
export function encodeDataFrames(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += MAX_FRAME_PAYLOAD) parts.push(encodeFrame(FRAME_DATA, bytes.subarray(i, i + MAX_FRAME_PAYLOAD)));
  return Buffer.concat(parts);
}

export function encodeResizeFrame(size: ResizeRequest): Uint8Array {
  return encodeFrame(FRAME_RESIZE, Buffer.from(JSON.stringify({ cols: size.cols, rows: size.rows }), 'utf8'));
}

function validSide(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 0xffff;
}

/**
 * Client→server frame decoder: a byte state machine with no I/O. push() returns the
 * complete frames; partial frames are kept (at most one header + MAX_FRAME_PAYLOAD bytes).
 * Throws ConsoleError('ATTACH_PROTOCOL') on an unknown type, an oversized length or a bad
 * resize payload; the decoder is unusable afterwards (the server disconnects the client).
 */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): AttachFrame[] {
    this.buf = this.buf.length === 0 ? bytes : Buffer.concat([this.buf, bytes]);
    const frames: AttachFrame[] = [];
    let off = 0;
    while (this.buf.length - off >= FRAME_HEADER) {
      const type = this.buf[off]!;
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + off + 1, 4).getUint32(0);
      if (type !== FRAME_DATA && type !== FRAME_RESIZE) throw protocolError(`unknown frame type ${type}`);
      if (len > MAX_FRAME_PAYLOAD) throw protocolError(`frame length ${len} > ${MAX_FRAME_PAYLOAD}`);
      if (type === FRAME_RESIZE && len > MAX_RESIZE_PAYLOAD) throw protocolError(`resize frame length ${len} > ${MAX_RESIZE_PAYLOAD}`);
      if (this.buf.length - off - FRAME_HEADER < len) break;
      const payload = this.buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len);
      off += FRAME_HEADER + len;
      if (type === FRAME_DATA) {
        if (len > 0) frames.push({ type: 'data', bytes: payload });
      } else {
        let v: unknown;
        try {
          v = JSON.parse(Buffer.from(payload).toString('utf8'));
        } catch {
          throw protocolError('resize payload is not JSON');
        }
        const { cols, rows } = (v ?? {}) as Record<string, unknown>;
        if (!validSide(cols) || !validSide(rows)) throw protocolError('resize needs integer cols and rows in 1..65535');
        frames.push({ type: 'resize', size: { cols, rows } });
      }
    }
    // Keep only the unconsumed tail (copy so frames handed out may be retained by callers).
    this.buf = off === 0 ? this.buf : this.buf.slice(off);
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }
}
