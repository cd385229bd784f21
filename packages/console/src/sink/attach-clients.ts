/**
 * One attach client's state on the server (attach.ts): its socket, whether it is still pending
 * classification, what was queued for it meanwhile, its framing decoder once it spoke vtcon; and
 * the watch that finds paused writers whose peer went away.
 */
import type { Socket } from 'node:net';
import { peerHungUp } from '@vtcon/transport/native';
import type { FrameDecoder } from './attach-protocol.js';
import type { ClientFeed } from './attach-feed.js';
import type { AttachClientInfo } from './attach-types.js';

export interface Client {
  info: AttachClientInfo;
  socket: Socket;
  state: 'pending' | 'attached' | 'gone';
  pendingIn: Buffer;
  pendingOut: Uint8Array[];
  pendingOutBytes: number;
  decoder: FrameDecoder | null;
  timer: NodeJS.Timeout | null;
  paused: boolean;
  /** Log mode: where its output starts when it attaches (the stream's end when it connected). */
  startOffset: number;
  /** Log mode, once attached: what sends it the log. */
  feed: ClientFeed | null;
}

/** A just-accepted client: pending, a raw spectator until it says otherwise. */
export function newClient(id: number, socket: Socket, startOffset = 0): Client {
  return {
    info: {
      id, name: `raw-${id}`, role: 'spectator', protocol: 'raw', since: Date.now(),
      bytesOut: 0, bytesIn: 0, inputDiscarded: 0, queuedBytes: 0, offset: null, lagBytes: 0, skippedBytes: 0,
    },
    socket, state: 'pending', pendingIn: Buffer.alloc(0), pendingOut: [], pendingOutBytes: 0,
    decoder: null, timer: null, paused: false, startOffset, feed: null,
  };
}

export function snapshot(c: Client): AttachClientInfo {
  const r = c.feed?.reader;
  return { ...c.info, queuedBytes: c.socket.writableLength, offset: r ? r.offset : null, lagBytes: r ? r.lag : 0 };
}

/**
 * A paused socket is not read, so its EOF is never seen: a writer that went away while its
 * input waited for the guest would hold its fd until the guest reads. Once a second, each
 * paused client's fd is asked whether its peer closed (poll POLLHUP; a half-close is not one).
 */
export class PausedHangupWatch {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly clients: Iterable<Client>) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      let paused = 0;
      for (const c of this.clients) {
        if (!c.paused || c.state === 'gone') continue;
        paused++;
        const fd = (c.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
        let hungUp = false;
        try { hungUp = fd >= 0 && peerHungUp(fd); } catch { hungUp = true; }
        if (hungUp) c.socket.destroy(); // 'close' → gone(CLIENT_CLOSED)
      }
      if (paused === 0) this.stop();
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
