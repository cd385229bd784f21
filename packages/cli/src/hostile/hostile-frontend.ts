// A hostile QEMU and guest in one: @vtcon/transport's VhostUserFrontend for the protocol (its
// request() sends any payload with any fds), rings laid out by hand so a queue can get any kick or
// call fd (or none), any address, and descriptors the guest writes itself. Every step an attack
// takes is bounded (within()): a daemon that hangs fails the test instead of hanging the run.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DriverQueue, layOutQueue, splitQueueLayout, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, type BufferSegment } from '@vtcon/ring';
import { FrontendRequest as R, VhostUserFrontend, type VhostUserProtocolFeatureName } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { encodeControl } from '@vtcon/console/testing';

export const VIRTIO_CONSOLE_F_MULTIPORT = 1n << 1n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;
const NOFD = 0x100n;
export const CONTROL_RECEIVEQ = 2;
export const CONTROL_TRANSMITQ = 3;
/** Port 1 (the target's org.test.a): receiveq 4, transmitq 5. */
export const PORT1_RECEIVEQ = 4;
export const PORT1_TRANSMITQ = 5;
export const DEVICE_READY = 0;
export const PORT_READY = 3;
export const PORT_OPEN = 6;

/** Rejects when `p` does not settle within `ms` (the step is named in the error). */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t!));
}

export interface QueueSpec {
  size?: number;
  /** An fd to pass as kick (we keep ownership), or 'none' for the no-fd bit. Default: a fresh eventfd. */
  kick?: number | 'none';
  call?: number | 'none';
  /** Added to the descriptor table's address (2 = misaligned). */
  descShift?: number;
}

export interface HostileQueue {
  index: number;
  driver: DriverQueue;
  /** Guest-physical address of the descriptor table (for hand-written descriptors). */
  descAddr: number;
  /** Guest-physical address of the available ring (for a hand-written avail.idx and ring). */
  availAddr: number;
  /** Guest-physical address of the used ring (what the device published, read by hand). */
  usedAddr: number;
  size: number;
  /** Ring the kick eventfd without publishing anything (when it is ours). */
  ring(): void;
  /** Publish what was added and ring the kick eventfd (when it is ours). */
  kick(): void;
  /** Take back used chains (so the ring has room again); returns how many. */
  reclaim(): number;
}

export interface HostileOptions {
  memory?: number[];
  protocolFeatures?: VhostUserProtocolFeatureName[];
}

export class HostileFrontend {
  private readonly ours: number[] = [];
  private closed = false;
  readonly queues = new Map<number, HostileQueue>();
  private bufTop = 0;

  private constructor(readonly fe: VhostUserFrontend, private readonly onClosed: Promise<void>) {}

  /** Connect, negotiate (MULTIPORT, VERSION_1) and send the memory table (SET_MEM_TABLE unless told otherwise). */
  static async connect(socket: string, o: HostileOptions = {}): Promise<HostileFrontend> {
    let closed!: () => void;
    const onClosed = new Promise<void>((r) => (closed = r));
    const fe = VhostUserFrontend.connect(socket, { onClose: () => closed() });
    const h = new HostileFrontend(fe, onClosed);
    try {
      await within(3000, 'negotiate', fe.negotiate({
        features: VIRTIO_CONSOLE_F_MULTIPORT | VIRTIO_F_VERSION_1,
        protocolFeatures: o.protocolFeatures ?? ['MQ', 'REPLY_ACK', 'CONFIG', 'STATUS'],
        memory: o.memory ?? [16 << 20],
      }));
    } catch (e) { h.close(); throw e; }
    return h;
  }

  /** Resolves true once the daemon closed the connection, false after timeoutMs. */
  closedByDaemon(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.onClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  get isClosed(): boolean { return this.fe.isClosed; }

  /** Guest memory for a buffer (bump-allocated in region 0, page-aligned). */
  alloc(len: number): number { return this.fe.alloc(len, 4096); }

  write(gpa: number, bytes: Uint8Array): void { this.fe.memory!.view(gpa, bytes.length).set(bytes); }

  /** Lay a split ring out and send SET_VRING_NUM/BASE/ADDR/KICK/CALL (+ENABLE), each bounded. */
  async queue(index: number, spec: QueueSpec = {}): Promise<HostileQueue> {
    const size = spec.size ?? 64;
    const memory = this.fe.memory!;
    const base = this.alloc(splitQueueLayout(size).totalBytes + 64);
    const addrs = layOutQueue(memory, base, size);
    const driver = new DriverQueue(memory, { ...addrs, size, eventIdx: false, indirect: false });
    const kickFd = spec.kick === undefined ? this.own(native.eventfdCreate()) : spec.kick;
    const callFd = spec.call === undefined ? this.own(native.eventfdCreate()) : spec.call;
    const fdArg = (fd: number | 'none') => (fd === 'none' ? { value: BigInt(index) | NOFD, fds: [] } : { value: BigInt(index), fds: [fd] });
    const set = (req: number, payload: Parameters<VhostUserFrontend['request']>[1], fds: number[] = []) =>
      within(2000, `request ${req} on queue ${index}`, this.fe.request(req, payload, { fds, needReply: true }));
    await set(R.SET_VRING_NUM, { kind: 'vringState', state: { index, num: size } });
    await set(R.SET_VRING_BASE, { kind: 'vringState', state: { index, num: 0 } });
    await set(R.SET_VRING_ADDR, { kind: 'vringAddr', addr: {
      index, flags: 0, descUserAddr: this.fe.toUserAddr(addrs.descAddr) + BigInt(spec.descShift ?? 0),
      usedUserAddr: this.fe.toUserAddr(addrs.usedAddr), availUserAddr: this.fe.toUserAddr(addrs.availAddr), logGuestAddr: 0n,
    } });
    const k = fdArg(kickFd), c = fdArg(callFd);
    await set(R.SET_VRING_KICK, { kind: 'u64', value: k.value }, k.fds);
    await set(R.SET_VRING_CALL, { kind: 'u64', value: c.value }, c.fds);
    await set(R.SET_VRING_ENABLE, { kind: 'vringState', state: { index, num: 1 } });
    const q: HostileQueue = {
      index, driver, descAddr: addrs.descAddr, availAddr: addrs.availAddr, usedAddr: addrs.usedAddr, size,
      ring: () => { if (typeof kickFd === 'number' && spec.kick === undefined) native.eventfdWrite(kickFd, 1); },
      kick: () => { driver.kickPrepare(); q.ring(); },
      reclaim: () => { let n = 0; while (driver.getUsed() !== null) n++; return n; },
    };
    this.queues.set(index, q);
    return q;
  }

  /**
   * By hand, behind the DriverQueue's back: one chain through every descriptor of queue `index`
   * (each `len` bytes at one buffer, device-writable or not), and every avail slot naming it, a
   * whole ring of it published at once and kicked. Legal per descriptor; the device walks
   * size × size descriptors for one kick.
   */
  amplify(index: number, o: { writable: boolean; len: number }): void {
    const q = this.queues.get(index)!;
    const buf = this.alloc(Math.max(o.len, 1));
    const desc = new DataView(new ArrayBuffer(16 * q.size));
    for (let i = 0; i < q.size; i++) {
      const last = i === q.size - 1;
      desc.setBigUint64(i * 16, BigInt(buf), true);
      desc.setUint32(i * 16 + 8, o.len, true);
      desc.setUint16(i * 16 + 12, (last ? 0 : VIRTQ_DESC_F_NEXT) | (o.writable ? VIRTQ_DESC_F_WRITE : 0), true);
      desc.setUint16(i * 16 + 14, last ? 0 : i + 1, true);
    }
    this.write(q.descAddr, new Uint8Array(desc.buffer));
    this.write(q.availAddr + 4, new Uint8Array(2 * q.size)); // every slot: head 0
    const idx = this.fe.memory!.view(q.availAddr + 2, 2);
    const next = ((idx[0]! | (idx[1]! << 8)) + q.size) & 0xffff;
    idx[0] = next & 0xff; idx[1] = next >> 8;
    q.ring();
  }

  /** One readable chain of `segments` on queue `index`; not published until kick(). */
  post(index: number, segments: BufferSegment[]): boolean {
    return this.queues.get(index)!.driver.addChain(segments, [], null) !== null;
  }

  /** A control message from the guest (driver → device) on the control transmitq, published and kicked. */
  sendControl(id: number, event: number, value: number): boolean {
    const msg = encodeControl(id, event, value);
    const q = this.queues.get(CONTROL_TRANSMITQ)!;
    q.reclaim();
    const at = this.scratch(msg.length);
    this.write(at, msg);
    const ok = q.driver.addBuffer(at, msg.length, false, null) !== null;
    q.kick();
    return ok;
  }

  /** Receive buffers for the device's control messages (device → driver). */
  postControlBuffers(n: number): void {
    const q = this.queues.get(CONTROL_RECEIVEQ)!;
    for (let i = 0; i < n; i++) q.driver.addBuffer(this.alloc(128), 128, true, null);
    q.kick();
  }

  /**
   * The guest driver's bring-up of port 1, as the seed does it: control queues and port 1's queues,
   * control buffers, DEVICE_READY, then PORT_READY for port 1 (and PORT_OPEN with `open`).
   */
  async portReady({ open = false } = {}): Promise<void> {
    for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ]) await this.queue(q);
    this.postControlBuffers(32);
    this.sendControl(0xffffffff, DEVICE_READY, 1);
    await new Promise((r) => setTimeout(r, 100));
    this.sendControl(1, PORT_READY, 1);
    if (open) this.sendControl(1, PORT_OPEN, 1);
    await new Promise((r) => setTimeout(r, 100));
  }

  /** A ring of 64 scratch slots of 4 KiB, for message bytes (reused round-robin). */
  private scratch(len: number): number {
    if (this.bufTop === 0) this.bufTop = this.alloc(64 * 4096);
    const slot = this.scratchNext++ % 64;
    if (len > 4096) throw new Error('scratch buffers are 4 KiB');
    return this.bufTop + slot * 4096;
  }
  private scratchNext = 0;

  /** Keep ownership of an fd we made, closed by close(). */
  own(fd: number): number { this.ours.push(fd); return fd; }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fe.close();
    for (const fd of this.ours.splice(0)) { try { native.close(fd); } catch { /* closed already */ } }
  }
}

/**
 * A FIFO opened read-write (a pipe fd, blocking, that never sees EOF) filled to its 64 KiB
 * capacity: any write(2) to it blocks. drain() reads it empty so a blocked writer goes on.
 */
export function fullBlockingPipe(dir: string): { fd: number; drain(): void; close(): void } {
  const path = join(dir, `fifo-${process.pid}-${Date.now()}`);
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr.toString()}`);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(65536, 0x61));
  return {
    fd,
    // The pipe is full, so this read returns at once.
    drain: () => { try { readSync(fd, Buffer.alloc(65536)); } catch { /* closed */ } },
    close: () => { try { closeSync(fd); } catch { /* closed */ } },
  };
}

/**
 * A blocking eventfd (O_NONBLOCK cleared) whose counter is at its maximum (2^64 - 2): a blocking
 * write(2) of 1 to it would wait until someone reads it. The daemon must accept it as a call fd
 * only after making it non-blocking (received-fd.ts); drain() resets the counter.
 */
export function fullBlockingEventfd(): { fd: number; drain(): void; close(): void } {
  const fd = native.eventfdCreate();
  native.setNonBlocking(fd, false);
  const max = Buffer.alloc(8);
  max.writeBigUInt64LE(0xfffffffffffffffen);
  writeSync(fd, max); // from 0, never blocks
  return {
    fd,
    drain: () => { try { native.setNonBlocking(fd); native.eventfdRead(fd); } catch { /* closed */ } },
    close: () => { try { native.close(fd); } catch { /* closed */ } },
  };
}

/**
 * A request the daemon must refuse: resolves with the error's message, or null (and a problem
 * noted by the caller) if it was accepted. Bounded by the request's own within().
 */
export async function refusal(p: Promise<unknown>): Promise<string | null> {
  try { await p; return null; } catch (e) { return (e as Error).message; }
}


/**
 * SET_OWNER then SET_MEM_TABLE of one region [0, size) on `fd`, by hand (the frontend seals the
 * memory it makes): null once the daemon took the table (GET_FEATURES answered after it), else why
 * not (a non-zero reply or the connection closed). Each step bounded.
 */
export async function memTable(socket: string, fd: number, size: number): Promise<string | null> {
  const fe = VhostUserFrontend.connect(socket);
  try {
    await within(3000, 'SET_OWNER', fe.request(R.SET_OWNER));
    await within(3000, 'SET_MEM_TABLE', fe.request(R.SET_MEM_TABLE, { kind: 'memTable', regions: [{ guestPhysAddr: 0n, memorySize: BigInt(size), userAddr: 0x7f0000000000n, mmapOffset: 0n }] }, { fds: [fd] }));
    await within(3000, 'GET_FEATURES after the table', fe.getFeatures());
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    fe.close();
  }
}
