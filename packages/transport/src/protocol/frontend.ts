/**
 * VhostUserFrontend: the QEMU side of vhost-user, for simulated guests and tests. It connects to
 * a back-end socket, negotiates, creates memfd-backed guest memory, lays vrings out with
 * @vtcon/ring, passes kick/call eventfds, and serves the BACKEND_REQ channel.
 *
 * Like QEMU, each region gets a fake front-end "user address" (a per-region base unrelated to
 * its guest-physical address), so a back-end must translate SET_VRING_ADDR addresses through
 * the memory table exactly as it must for QEMU.
 *
 * Thread contract: main thread. Requests may be issued concurrently; replies are matched in
 * order (the back-end answers requests in order, spec "Communication").
 */
import * as native from '../native.js';
import { DriverQueue, GuestMemory, layOutQueue, splitQueueLayout, type QueueConfig } from '@vtcon/ring';
import { VhostUserConnection, safeClose } from '../socket/connection.js';
import { encodeMessage, decodeMessage, type VhostUserMessage } from './message.js';
import { describeRequest, isReply, REQUEST_FLAGS, REPLY_FLAGS } from './message-header.js';
import type { Payload } from './message-payload.js';
import type { InflightDescription, MemoryRegionDescription } from './message-memory.js';
import {
  BackendRequest, FrontendRequest, VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_MAX_QUEUES, VHOST_USER_NEED_REPLY_MASK,
  VhostUserProtocolFeature, protocolFeatureMask, type VhostUserProtocolFeatureName,
} from './codes.js';
import { VhostUserError } from '../errors.js';
import { silentLogger, type Logger } from './device.js';
import type { FrontendOptions, FrontendQueue, FrontendRegion, NegotiateOptions } from './frontend-types.js';

const PROTOCOL_FEATURES_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);
/** Hole between regions, like QEMU's 0xa0000-0xc0000 VGA hole: makes region 1 start off zero. */
const REGION_GAP = 0x100000;
/** Fake front-end virtual address bases, one per region (QEMU's are its mmap addresses). */
const USER_ADDR_BASE = 0x7f0000000000;
const USER_ADDR_STRIDE = 0x10000000000;

interface PendingReply { request: number; resolve(m: VhostUserMessage): void; reject(e: Error): void }

export type { FrontendRegion, FrontendQueue, FrontendOptions, NegotiateOptions } from './frontend-types.js';

export class VhostUserFrontend {
  private readonly conn: VhostUserConnection;
  private readonly log: Logger;
  private readonly opts: FrontendOptions;
  private readonly pending: PendingReply[] = [];
  private backendChannel: VhostUserConnection | null = null;
  private closedErr: VhostUserError | null = null;
  private closed = false;
  readonly regions: FrontendRegion[] = [];
  readonly queues = new Map<number, FrontendQueue>();
  memory: GuestMemory | null = null;
  backendFeatures = 0n;
  ackedFeatures = 0n;
  ackedProtocolFeatures = 0n;
  private nextFree = 0;
  /** The back-end's inflight buffer (GET_INFLIGHT_FD), kept across back-end restarts like QEMU's. */
  inflight: { fd: number; desc: InflightDescription } | null = null;

  private constructor(fd: number, opts: FrontendOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
    this.conn = new VhostUserConnection(fd, 'reply', {
      onMessage: (fm) => {
        const p = this.pending.shift();
        let m: VhostUserMessage;
        try {
          if (!p || p.request !== fm.header.request || !isReply(fm.header.flags)) {
            throw new VhostUserError('UNEXPECTED_REPLY', `got ${describeRequest('reply', fm.header.request)} while waiting for ${p ? describeRequest('request', p.request) : 'nothing'}`);
          }
          m = decodeMessage(fm.header, fm.payload, fm.fds, 'reply');
        } catch (e) {
          for (const fd of fm.fds) safeClose(fd);
          p?.reject(e as Error);
          this.conn.close(e as VhostUserError);
          return;
        }
        p.resolve(m);
      },
      onClose: (e) => {
        this.closed = true;
        this.closedErr = e;
        const why = e ?? new VhostUserError('NOT_CONNECTED', 'connection closed');
        for (const p of this.pending.splice(0)) p.reject(why);
        // Guest RAM and rings outlive the connection (as in QEMU when a back-end dies); only
        // close() frees them.
        this.backendChannel?.close();
        this.backendChannel = null;
        if (this.releaseOnClose) this.release();
        this.opts.onClose?.(e);
      },
    });
  }

  static connect(socketPath: string, opts: FrontendOptions = {}): VhostUserFrontend {
    return new VhostUserFrontend(native.connectUnix(socketPath), opts);
  }

  get isClosed(): boolean { return this.closed; }
  get closeError(): VhostUserError | null { return this.closedErr; }

  /**
   * Send one request. Resolves with the reply when the request has a reply body or NEED_REPLY
   * is set (then a non-zero ack rejects with REPLY_FAILED); otherwise resolves null once queued.
   */
  async request(request: number, payload: Payload = { kind: 'none' }, o: { fds?: number[]; needReply?: boolean; expectReply?: boolean } = {}): Promise<VhostUserMessage | null> {
    if (this.closed) throw new VhostUserError('NOT_CONNECTED', `${describeRequest('request', request)} on a closed connection`);
    const flags = REQUEST_FLAGS | (o.needReply ? VHOST_USER_NEED_REPLY_MASK : 0);
    const waits = o.expectReply || o.needReply;
    const reply = waits ? new Promise<VhostUserMessage>((resolve, reject) => this.pending.push({ request, resolve, reject })) : null;
    try {
      this.conn.send(encodeMessage({ request, flags, payload }), o.fds ?? []);
    } catch (e) {
      reply?.catch(() => undefined); // the close rejected it too: the caller gets the send error
      throw e;
    }
    if (!reply) return null;
    const m = await reply;
    if (o.needReply && !o.expectReply && m.payload.kind === 'u64' && m.payload.value !== 0n) {
      throw new VhostUserError('REPLY_FAILED', `${describeRequest('request', request)} answered ${m.payload.value}`, { scope: 'none' });
    }
    return m;
  }

  private get replyAck(): boolean { return this.hasProtocol('REPLY_ACK'); }
  hasProtocol(f: VhostUserProtocolFeatureName): boolean { return (this.ackedProtocolFeatures & (1n << BigInt(VhostUserProtocolFeature[f]))) !== 0n; }

  /** A request with no reply body: with REPLY_ACK, wait for the ack (like QEMU's SET_* with NEED_REPLY). */
  private async set(request: number, payload: Payload, fds: number[] = []): Promise<void> {
    await this.request(request, payload, { fds, needReply: this.replyAck });
  }

  private async getU64(request: number): Promise<bigint> {
    const m = await this.request(request, { kind: 'none' }, { expectReply: true });
    if (m?.payload.kind !== 'u64') throw new VhostUserError('UNEXPECTED_REPLY', `${describeRequest('request', request)}: no u64 reply`);
    return m.payload.value;
  }

  getFeatures(): Promise<bigint> { return this.getU64(FrontendRequest.GET_FEATURES); }
  getProtocolFeatures(): Promise<bigint> { return this.getU64(FrontendRequest.GET_PROTOCOL_FEATURES); }
  getQueueNum(): Promise<bigint> { return this.getU64(FrontendRequest.GET_QUEUE_NUM); }
  getMaxMemSlots(): Promise<bigint> { return this.getU64(FrontendRequest.GET_MAX_MEM_SLOTS); }
  getStatus(): Promise<bigint> { return this.getU64(FrontendRequest.GET_STATUS); }
  async setFeatures(f: bigint): Promise<void> { await this.set(FrontendRequest.SET_FEATURES, { kind: 'u64', value: f }); this.ackedFeatures = f; }
  async setProtocolFeatures(f: bigint): Promise<void> {
    // Sent before REPLY_ACK is in force, like QEMU (the transcript shows flags=0x1).
    await this.request(FrontendRequest.SET_PROTOCOL_FEATURES, { kind: 'u64', value: f });
    this.ackedProtocolFeatures = f;
  }
  setOwner(): Promise<void> { return this.set(FrontendRequest.SET_OWNER, { kind: 'none' }); }
  setStatus(s: number): Promise<void> { return this.set(FrontendRequest.SET_STATUS, { kind: 'u64', value: BigInt(s) }); }
  resetDevice(): Promise<void> { return this.set(FrontendRequest.RESET_DEVICE, { kind: 'none' }); }

  async getConfig(offset: number, size: number): Promise<Uint8Array> {
    const m = await this.request(FrontendRequest.GET_CONFIG, { kind: 'config', config: { offset, size, flags: 0, data: new Uint8Array(size) } }, { expectReply: true });
    if (m?.payload.kind !== 'config' || m.payload.config.data.byteLength !== size) {
      throw new VhostUserError('REPLY_FAILED', `GET_CONFIG [${offset}, +${size}) failed`, { scope: 'none' });
    }
    return m.payload.config.data;
  }
  setConfig(offset: number, data: Uint8Array): Promise<void> {
    return this.set(FrontendRequest.SET_CONFIG, { kind: 'config', config: { offset, size: data.byteLength, flags: 0, data } });
  }

  /** Create memfd-backed guest RAM: region i at a gap after region i-1, each with a fake userAddr. */
  createMemory(sizes: number[]): GuestMemory {
    if (this.regions.length > 0) throw new VhostUserError('OUT_OF_ORDER', 'guest memory already created', { scope: 'none' });
    let gpa = 0;
    sizes.forEach((size, i) => {
      const fd = native.memfdCreate(`vtcon-guest-ram${i}`);
      try {
        native.ftruncate(fd, size);
        // Sealed like QEMU's memory-backend-memfd (seal=on): a back-end refuses RAM that could shrink.
        native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
        const sab = native.mmapShared(fd, size, 0);
        this.regions.push({ guestPhysAddr: gpa, size, userAddr: USER_ADDR_BASE + i * USER_ADDR_STRIDE + (gpa % 0x1000000), fd, sab });
      } catch (e) { safeClose(fd); throw e; }
      gpa += size + REGION_GAP;
    });
    this.memory = new GuestMemory(this.regions.map((r) => ({ guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.sab, userAddr: r.userAddr })));
    this.nextFree = 0;
    return this.memory;
  }

  private regionDesc(r: FrontendRegion): MemoryRegionDescription {
    return { guestPhysAddr: BigInt(r.guestPhysAddr), memorySize: BigInt(r.size), userAddr: BigInt(r.userAddr), mmapOffset: 0n };
  }

  /** SET_MEM_TABLE, or one ADD_MEM_REG per region when CONFIGURE_MEM_SLOTS was negotiated (as QEMU does). */
  async sendMemTable(): Promise<void> {
    if (this.hasProtocol('CONFIGURE_MEM_SLOTS')) {
      for (const r of this.regions) await this.set(FrontendRequest.ADD_MEM_REG, { kind: 'memRegion', region: this.regionDesc(r) }, [r.fd]);
    } else {
      await this.set(FrontendRequest.SET_MEM_TABLE, { kind: 'memTable', regions: this.regions.map((r) => this.regionDesc(r)) }, this.regions.map((r) => r.fd));
    }
  }

  /** Guest-physical → front-end user address (what QEMU puts in SET_VRING_ADDR). */
  toUserAddr(gpa: number): bigint {
    const r = this.regions.find((x) => gpa >= x.guestPhysAddr && gpa < x.guestPhysAddr + x.size);
    if (!r) throw new VhostUserError('VRING_ADDR_UNMAPPED', `gpa 0x${gpa.toString(16)} is in no region`, { scope: 'none' });
    return BigInt(r.userAddr + (gpa - r.guestPhysAddr));
  }

  /**
   * Guest buffer allocator: bump-allocates from region 0 (after the rings). Simulated guests
   * take their buffers from here.
   */
  alloc(len: number, align = 64): number {
    const r = this.regions[0];
    if (!r) throw new VhostUserError('OUT_OF_ORDER', 'alloc before createMemory', { scope: 'none' });
    const addr = Math.ceil((r.guestPhysAddr + this.nextFree) / align) * align;
    if (addr + len > r.guestPhysAddr + r.size) throw new VhostUserError('MEM_TABLE_TOO_MANY', `guest memory exhausted (${len} bytes)`, { scope: 'none' });
    this.nextFree = addr + len - r.guestPhysAddr;
    return addr;
  }

  /**
   * Lay queue `index` out in guest memory (in the last region, so region translation matters)
   * and send SET_VRING_NUM / BASE / ADDR / KICK / CALL. Enabling is separate (SET_VRING_ENABLE).
   */
  async setupQueue(index: number, size: number, o: { base?: number; eventIdx?: boolean; reuse?: boolean } = {}): Promise<FrontendQueue> {
    const memory = this.memory;
    if (!memory) throw new VhostUserError('OUT_OF_ORDER', 'setupQueue before createMemory', { scope: 'none' });
    if (!Number.isInteger(index) || index < 0 || index >= VHOST_USER_MAX_QUEUES) {
      throw new VhostUserError('QUEUE_INDEX_OUT_OF_RANGE', `queue ${index}: vhost-user names queues 0..${VHOST_USER_MAX_QUEUES - 1} (SET_VRING_KICK's index is 8 bits)`, { scope: 'none' });
    }
    let q = this.queues.get(index);
    if (!q || !o.reuse) {
      const last = this.regions[this.regions.length - 1]!;
      const ringBytes = splitQueueLayout(size).totalBytes;
      // Rings live at the top of the last region, one 64 KiB-aligned slot per queue index.
      const slot = Math.ceil(ringBytes / 0x10000) * 0x10000;
      const base = last.guestPhysAddr + last.size - (index + 1) * slot;
      const addrs = layOutQueue(memory, base, size);
      const config: QueueConfig = { ...addrs, size, eventIdx: o.eventIdx ?? false, indirect: false };
      if (q) { safeClose(q.kickFd); safeClose(q.callFd); }
      q = { index, size, driver: new DriverQueue(memory, config), config, kickFd: native.eventfdCreate(), callFd: native.eventfdCreate() };
      this.queues.set(index, q);
    } else {
      // Reconnect: same rings, fresh eventfds (the old ones went with the old connection).
      safeClose(q.kickFd); safeClose(q.callFd);
      q.kickFd = native.eventfdCreate(); q.callFd = native.eventfdCreate();
    }
    const c = q.config;
    await this.set(FrontendRequest.SET_VRING_NUM, { kind: 'vringState', state: { index, num: size } });
    await this.set(FrontendRequest.SET_VRING_BASE, { kind: 'vringState', state: { index, num: o.base ?? 0 } });
    await this.set(FrontendRequest.SET_VRING_ADDR, { kind: 'vringAddr', addr: {
      index, flags: 0, descUserAddr: this.toUserAddr(c.descAddr), usedUserAddr: this.toUserAddr(c.usedAddr),
      availUserAddr: this.toUserAddr(c.availAddr), logGuestAddr: BigInt(c.usedAddr),
    } });
    await this.set(FrontendRequest.SET_VRING_KICK, { kind: 'u64', value: BigInt(index) }, [q.kickFd]);
    await this.set(FrontendRequest.SET_VRING_CALL, { kind: 'u64', value: BigInt(index) }, [q.callFd]);
    return q;
  }

  /** used.idx as the back-end last published it (QEMU restores last_avail_idx from it after a back-end crash). */
  usedIdx(index: number): number {
    const q = this.queues.get(index)!;
    const b = this.memory!.view(q.config.usedAddr, 4);
    return b[2]! | (b[3]! << 8);
  }

  enableQueue(index: number, enable = true): Promise<void> {
    return this.set(FrontendRequest.SET_VRING_ENABLE, { kind: 'vringState', state: { index, num: enable ? 1 : 0 } });
  }

  /** Stop queue `index` (the back-end stops processing it) and return its last avail index. */
  async getVringBase(index: number): Promise<number> {
    const m = await this.request(FrontendRequest.GET_VRING_BASE, { kind: 'vringState', state: { index, num: 0 } }, { expectReply: true });
    if (m?.payload.kind !== 'vringState') throw new VhostUserError('UNEXPECTED_REPLY', 'GET_VRING_BASE: no vring state');
    return m.payload.state.num;
  }

  /**
   * Inflight tracking (protocol feature INFLIGHT_SHMFD), as QEMU's vhost-user-blk does at every
   * start: GET_INFLIGHT_FD once (the first back-end creates and sizes the buffer), then
   * SET_INFLIGHT_FD with it, before the rings are set up. After a back-end restart (reattach)
   * the same buffer goes to the new back-end, which resubmits whatever the dead one had popped
   * and not used. Returns false (and does nothing) when INFLIGHT_SHMFD was not negotiated.
   */
  async setupInflight(numQueues: number, queueSize: number): Promise<boolean> {
    if (!this.hasProtocol('INFLIGHT_SHMFD')) return false;
    if (!this.inflight) {
      const m = await this.request(FrontendRequest.GET_INFLIGHT_FD, { kind: 'inflight', inflight: { mmapSize: 0n, mmapOffset: 0n, numQueues, queueSize } }, { expectReply: true });
      if (m?.payload.kind !== 'inflight' || m.fds.length !== 1 || m.payload.inflight.mmapSize === 0n) {
        for (const fd of m?.fds ?? []) safeClose(fd);
        throw new VhostUserError('UNEXPECTED_REPLY', 'GET_INFLIGHT_FD: no buffer in the reply', { scope: 'none' });
      }
      this.inflight = { fd: m.fds[0]!, desc: m.payload.inflight };
    }
    await this.set(FrontendRequest.SET_INFLIGHT_FD, { kind: 'inflight', inflight: this.inflight.desc }, [this.inflight.fd]);
    return true;
  }

  /** SET_BACKEND_REQ_FD: give the back-end a socket on which it sends us requests. */
  async setBackendReqFd(): Promise<void> {
    const [ours, theirs] = native.socketPair();
    this.backendChannel = new VhostUserConnection(ours, 'backendRequest', {
      onMessage: (fm) => {
        for (const fd of fm.fds) safeClose(fd);
        if (fm.header.request === BackendRequest.CONFIG_CHANGE_MSG) this.opts.onConfigChange?.();
        if ((fm.header.flags & VHOST_USER_NEED_REPLY_MASK) !== 0 && !this.backendChannel!.isClosed) {
          this.backendChannel!.send(encodeMessage({ request: fm.header.request, flags: REPLY_FLAGS, payload: { kind: 'u64', value: 0n } }));
        }
      },
      onClose: () => {},
    });
    try {
      await this.set(FrontendRequest.SET_BACKEND_REQ_FD, { kind: 'none' }, [theirs]);
    } finally {
      safeClose(theirs); // the kernel gave the back-end its own copy
    }
  }

  /**
   * The QEMU 11 start-up sequence (src/protocol/fixtures/qemu-11.1.3): features, protocol
   * features, queue num, [max mem slots, backend req fd], owner, memory, and (per queue) rings.
   */
  async negotiate(o: NegotiateOptions): Promise<{ features: bigint; protocolFeatures: bigint; queueNum: number }> {
    this.backendFeatures = await this.getFeatures();
    let queueNum = 0;
    if ((this.backendFeatures & PROTOCOL_FEATURES_BIT) !== 0n) {
      const offered = await this.getProtocolFeatures();
      const wanted = protocolFeatureMask(o.protocolFeatures ?? ['MQ', 'REPLY_ACK', 'CONFIG', 'BACKEND_REQ', 'INFLIGHT_SHMFD', 'RESET_DEVICE', 'STATUS', 'CONFIGURE_MEM_SLOTS']);
      await this.setProtocolFeatures(offered & wanted);
      if (this.hasProtocol('MQ')) queueNum = Number(await this.getQueueNum());
      if (this.hasProtocol('CONFIGURE_MEM_SLOTS')) await this.getMaxMemSlots();
      if (this.hasProtocol('BACKEND_REQ')) await this.setBackendReqFd();
    }
    await this.setOwner();
    const features = (o.features ?? this.backendFeatures) & this.backendFeatures;
    await this.setFeatures(features | (this.backendFeatures & PROTOCOL_FEATURES_BIT));
    if (this.hasProtocol('STATUS')) await this.setStatus(8 /* FEATURES_OK */);
    if (!this.memory) this.createMemory(o.memory); // a reattached front-end keeps its guest RAM
    await this.sendMemTable();
    return { features: this.ackedFeatures, protocolFeatures: this.ackedProtocolFeatures, queueNum };
  }

  /** Ring the kick eventfd of queue `index` (after DriverQueue.kickPrepare() said so). */
  kick(index: number): void { native.eventfdWrite(this.queues.get(index)!.kickFd, 1); }

  /** Close the connection and release guest memory and eventfds. Idempotent. */
  close(): void {
    this.releaseOnClose = true;
    if (this.conn.isClosed) this.release();
    else this.conn.close();
  }
  private releaseOnClose = false;

  /** Drop the connection but keep guest memory and rings (to reattach to a back-end later). */
  detach(): void { this.conn.close(); }

  /** Attach a new connection (after the back-end restarted) reusing memory and rings. */
  static reattach(old: VhostUserFrontend, socketPath: string, opts: FrontendOptions = old.opts): VhostUserFrontend {
    const f = VhostUserFrontend.connect(socketPath, opts);
    f.regions.push(...old.regions.splice(0));
    f.memory = old.memory;
    for (const [k, q] of old.queues) f.queues.set(k, q);
    old.queues.clear();
    f.nextFree = old.nextFree;
    f.inflight = old.inflight;
    old.inflight = null;
    return f;
  }

  private release(): void {
    for (const q of this.queues.values()) { safeClose(q.kickFd); safeClose(q.callFd); }
    this.queues.clear();
    if (this.inflight) { safeClose(this.inflight.fd); this.inflight = null; }
    for (const r of this.regions.splice(0)) {
      // Idempotent: a throw is a real failure (the memfd stays mapped until GC), not "already released".
      try { native.releaseMapping(r.sab); } catch (e) { this.log.error({ reason: 'MAPPING_RELEASE_FAILED', err: (e as Error).message }, 'guest RAM mapping not released'); }
      safeClose(r.fd);
    }
    this.memory = null;
  }
}
