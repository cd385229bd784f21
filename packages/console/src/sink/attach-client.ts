/**
 * Client side of the attach handshake, for `vtcon attach` and tests: connect, send
 * VTCON-ATTACH, read the one-line reply, then hand back the socket in raw-output mode
 * with helpers that frame input and resize requests.
 */
import { createConnection, type Socket } from 'node:net';
import { ConsoleError } from '../errors.js';
import {
  ATTACH_ERR, ATTACH_OK, MAX_HANDSHAKE_LINE, encodeAttachRequest, encodeDataFrames, encodeResizeFrame, parseAttachReply,
  type AttachReply, type AttachRequest, type ResizeRequest,
} from './attach-protocol.js';

export interface AttachConnection {
  socket: Socket;
  reply: AttachReply;
  /** Output bytes that arrived together with the reply line (replay start); emit them first. */
  initial: Uint8Array;
  // The socket is paused: attach a 'data' listener, then call socket.resume().
  sendInput(bytes: Uint8Array): boolean;
  sendResize(size: ResizeRequest): boolean;
}

/** Connects with the vtcon handshake. Rejects with ConsoleError('ATTACH_PROTOCOL') on VTCON-ERR. */
export function connectAttach(path: string, req: AttachRequest, timeoutMs = 5000): Promise<AttachConnection> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new ConsoleError('ATTACH_PROTOCOL', `no reply from ${path} within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      // Raw output may precede the reply if our handshake reached a loaded server after its
      // grace period; skip to the reply line (the replay re-sends what matters).
      const at = replyStart(buf);
      if (at > 0) buf = buf.subarray(at);
      const lf = at < 0 ? -1 : buf.indexOf(0x0a);
      if (lf < 0) {
        if (at < 0 && buf.length > MAX_HANDSHAKE_LINE) buf = buf.subarray(buf.length - MAX_HANDSHAKE_LINE);
        else if (buf.length > MAX_HANDSHAKE_LINE) fail(new ConsoleError('ATTACH_PROTOCOL', 'reply line too long'));
        return;
      }
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      let parsed;
      try {
        parsed = parseAttachReply(buf.subarray(0, lf).toString('utf8'));
      } catch (e) {
        fail(e as Error);
        return;
      }
      if (!parsed.ok) {
        fail(new ConsoleError('ATTACH_PROTOCOL', `${parsed.error.reason}: ${parsed.error.message}`));
        return;
      }
      socket.off('error', fail);
      resolve({
        socket, reply: parsed.reply, initial: buf.subarray(lf + 1),
        sendInput: (bytes) => socket.write(encodeDataFrames(bytes)),
        sendResize: (size) => socket.write(encodeResizeFrame(size)),
      });
    };
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('connect', () => socket.write(encodeAttachRequest(req)));
  });
}

/** Index of "VTCON-OK " / "VTCON-ERR " at the start or after an LF; -1 if not (yet) present. */
function replyStart(buf: Buffer): number {
  for (const tag of [ATTACH_OK, ATTACH_ERR]) {
    if (buf.subarray(0, tag.length).toString('latin1') === tag) return 0;
  }
  let best = -1;
  for (const tag of [ATTACH_OK, ATTACH_ERR]) {
    const i = buf.indexOf(`\n${tag}`, 0, 'latin1');
    if (i >= 0 && (best < 0 || i + 1 < best)) best = i + 1;
  }
  return best;
}
