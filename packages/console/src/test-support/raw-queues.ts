/**
 * Test support (not built into dist/): a hostile front-end and guest in one. Queues laid out in a
 * shared guest memory by hand and started on a device with whatever kick/call fds a test picks
 * (real eventfds by default; a socket, /dev/null, -1...), and a driver half to post any chain,
 * including ones no driver model would build (the same buffer listed many times).
 */
import { DriverQueue, type GuestMemory, layOutQueue, type QueueConfig, splitQueueLayout } from '@vtcon/ring';
import { BumpAllocator, makeGuestMemory } from '@vtcon/ring/testing';
import * as native from '@vtcon/transport/native';
import type { VhostUserDeviceLike } from '../device/vhost-device.js';

export interface RawQueue {
  index: number;
  driver(): DriverQueue;
  config: QueueConfig;
  kickFd: number;
  callFd: number;
  /** Post a chain reading `bytes` (copied into fresh guest buffers) and kick. */
  post(bytes: Uint8Array): void;
  /** Post a chain of `count` readable segments that all point at one `segBytes` buffer, and kick. */
  postRepeated(segBytes: number, count: number): void;
  /** Post one device-writable buffer of `len` bytes and kick. */
  postWritable(len: number): void;
  kick(): void;
}

export class RawGuest {
  readonly memory: GuestMemory;
  readonly alloc: BumpAllocator;
  private readonly fds: number[] = [];

  constructor(bytes = 8 << 20) {
    this.memory = makeGuestMemory(bytes);
    this.alloc = new BumpAllocator(this.memory.regions[0]!.guestPhysAddr, bytes);
  }

  /** A fresh eventfd, closed by close(). */
  eventfd(): number {
    const fd = native.eventfdCreate();
    this.fds.push(fd);
    return fd;
  }

  /**
   * Lay out queue `index` and start it on `dev`. kickFd/callFd default to fresh eventfds; pass
   * any fd (or -1) to play a hostile front-end. `config` overrides the ring addresses.
   */
  start(dev: VhostUserDeviceLike, index: number, o: { size?: number; kickFd?: number; callFd?: number; config?: Partial<QueueConfig> } = {}): RawQueue {
    const size = o.size ?? 64;
    const ring = this.alloc.alloc(splitQueueLayout(size).totalBytes, 64);
    const config: QueueConfig = { ...layOutQueue(this.memory, ring, size), size, eventIdx: false, indirect: false, ...o.config };
    let driverQueue: DriverQueue | null = null;
    const driver = (): DriverQueue => (driverQueue ??= new DriverQueue(this.memory, config)); // a bad ring: only if used
    const kickFd = o.kickFd ?? this.eventfd();
    const callFd = o.callFd ?? this.eventfd();
    const kick = (): void => { if (kickFd >= 0) try { native.eventfdWrite(kickFd, 1); } catch { /* a hostile kick fd */ } };
    const q: RawQueue = {
      index, driver, config, kickFd, callFd, kick,
      post: (bytes) => {
        const addr = this.alloc.alloc(Math.max(bytes.length, 1), 16);
        this.memory.view(addr, bytes.length).set(bytes);
        driver().addChain([{ addr, len: bytes.length }], [], null);
        driver().kickPrepare();
        kick();
      },
      postRepeated: (segBytes, count) => {
        const addr = this.alloc.alloc(segBytes, 16);
        driver().addChain(Array.from({ length: count }, () => ({ addr, len: segBytes })), [], null);
        driver().kickPrepare();
        kick();
      },
      postWritable: (len) => {
        driver().addChain([], [{ addr: this.alloc.alloc(len, 16), len }], null);
        driver().kickPrepare();
        kick();
      },
    };
    dev.startQueue(index, { index, memory: this.memory, config, lastAvailIdx: 0, usedIdx: 0, kickFd, callFd, regionFds: [] });
    return q;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) native.close(fd);
  }
}
