/**
 * VhostUserBackend: serves one VhostUserDevice per connection on one listening Unix socket
 * (one socket per VM). One connection at a time: while a front-end is connected the listening
 * fd is not polled, so a second connect waits in the backlog until the first one ends.
 *
 * Never fatal: a protocol error closes that connection only (queues stopped, mappings released,
 * fds closed, device.disconnected()), is logged, and the backend listens again.
 *
 * Thread contract: main thread. Requests are handled strictly one after another (a promise
 * chain), because stopping a queue may be asynchronous (a worker must let go of the ring first).
 *
 * Reply rules (vhost-user.rst "Communication", "REPLY_ACK"):
 * - a request with a reply body (GET_*) gets it; if it fails, GET_CONFIG answers with an empty
 *   payload (the spec's error form) and other GET_* close the connection (the peer would wait).
 * - any other request with NEED_REPLY gets a u64: 0 on success, 1 on failure.
 * - a failing request without NEED_REPLY closes the connection: the front-end has no other
 *   way to learn that its state was not applied.
 */
import * as native from '../native.js';
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, type QueueConfig } from '@vtcon/ring';
import { VhostUserConnection, safeClose } from '../socket/connection.js';
import type { FramedMessage } from './framer.js';
import {
  decodeMessage, describeRequest, encodeMessage, needsReply, REPLY_FLAGS, REQUEST_FLAGS,
  type Payload, type VhostUserMessage, type VringAddr,
} from './message.js';
import {
  BackendRequest, FrontendRequest, SUPPORTED_PROTOCOL_FEATURES, VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_MAX_MEM_REGIONS, VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK, VIRTQUEUE_MAX_SIZE,
  VhostUserProtocolFeature, protocolFeatureMask, type VhostUserProtocolFeatureName,
} from './codes.js';
import { VhostUserError, isVhostUserError } from '../errors.js';
import { VhostUserMemoryTable } from '../memory/memory-table.js';
import { InflightQueue, inflightBufferSize, inflightQueueRegionSize } from '../memory/inflight.js';
import { silentLogger, type Logger, type VhostUserDevice } from './device.js';
import { checkEventfd, checkMemoryFd, checkSocketFd, type EventfdUse } from '../socket/received-fd.js';

const RING_F_INDIRECT_DESC = 1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC);
const RING_F_EVENT_IDX = 1n << BigInt(VIRTIO_RING_F_EVENT_IDX);
const PROTOCOL_FEATURES_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);

export interface VhostUserBackendOptions {
  socketPath: string;
  createDevice: () => VhostUserDevice;
  logger?: Logger;
  /** Protocol features offered; default: every one this implementation supports. */
  protocolFeatures?: readonly VhostUserProtocolFeatureName[];
  /** GET_MAX_MEM_SLOTS answer and ADD_MEM_REG limit (default 8). */
  maxMemSlots?: number;
  /**
   * Accept guest memory (and inflight) fds without F_SEAL_SHRINK — hugetlbfs or tmpfs files,
   * which cannot be sealed. Default false: such a table is refused (MEMORY_NOT_SEALED), because
   * a front-end that shrinks a mapped file kills the whole process with SIGBUS. Set it only for
   * a front-end you trust not to truncate its RAM.
   */
  trustUnsealedMemory?: boolean;
}

interface SessionOptions { offeredProtocol: bigint; maxSlots: number; trustUnsealedMemory: boolean }

interface VringState {
  num: number;
  addr: VringAddr | null;
  config: QueueConfig | null;
  lastAvailIdx: number;
  kickFd: number; // -1: none
  kickSet: boolean;
  callFd: number;
  errFd: number;
  enabled: boolean;
  started: boolean;
}

function newVring(): VringState {
  return { num: 0, addr: null, config: null, lastAvailIdx: 0, kickFd: -1, kickSet: false, callFd: -1, errFd: -1, enabled: false, started: false };
}

const err = (reason: ConstructorParameters<typeof VhostUserError>[0], msg: string) => new VhostUserError(reason, msg, { scope: 'none' });

/** Requests whose reply carries a body (not a REPLY_ACK u64). */
const HAS_REPLY_BODY = new Set<number>([
  FrontendRequest.GET_FEATURES, FrontendRequest.GET_PROTOCOL_FEATURES, FrontendRequest.GET_VRING_BASE,
  FrontendRequest.GET_QUEUE_NUM, FrontendRequest.GET_CONFIG, FrontendRequest.GET_INFLIGHT_FD,
  FrontendRequest.GET_MAX_MEM_SLOTS, FrontendRequest.GET_STATUS,
]);

/** One front-end connection: protocol state + the device instance serving it. */
class BackendSession {
  readonly conn: VhostUserConnection;
  private readonly device: VhostUserDevice;
  private readonly log: Logger;
  private readonly offeredProtocol: bigint;
  private readonly trustUnsealedMemory: boolean;
  private readonly memTable: VhostUserMemoryTable;
  private vrings: VringState[];
  private ackedFeatures = 0n;
  private ackedProtocol = 0n;
  private status = 0;
  private backendReq: VhostUserConnection | null = null;
  private inflight: { fd: number; sab: SharedArrayBuffer; size: number; numQueues: number; queueSize: number } | null = null;
  private chain: Promise<void> = Promise.resolve();
  private ending = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Requests handled (for tests and logs). */
  handled = 0;

  constructor(fd: number, device: VhostUserDevice, log: Logger, o: SessionOptions) {
    this.device = device;
    this.log = log;
    this.offeredProtocol = o.offeredProtocol;
    this.trustUnsealedMemory = o.trustUnsealedMemory;
    this.memTable = new VhostUserMemoryTable(native, {
      maxSlots: o.maxSlots, trustUnsealedMemory: o.trustUnsealedMemory,
      onReleaseError: (e) => this.log.error({ reason: e.reason, err: e.message }, 'guest memory mapping not released'),
    });
    this.vrings = Array.from({ length: device.queueCount }, newVring);
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.conn = new VhostUserConnection(fd, 'request', {
      onMessage: (m) => { this.enqueue(() => this.handle(m), 'request'); },
      onClose: (e) => { this.enqueue(() => this.teardown(e), 'teardown'); },
    });
  }

  /**
   * Run `step` after every earlier one. Nothing escapes the chain: a step that throws anyway
   * (a bug, or a device throwing where it must not) is logged and ends the connection, whose
   * teardown is queued behind it — never an unhandled rejection.
   */
  private enqueue(step: () => Promise<void>, what: string): void {
    this.chain = this.chain.then(step).catch((e: unknown) => {
      this.log.error({ reason: isVhostUserError(e) ? e.reason : 'DEVICE_FAILED', err: (e as Error)?.message ?? String(e), step: what }, 'vhost-user session step failed');
      if (what === 'teardown') { this.ending = true; this.resolveDone(); return; }
      this.conn.close(isVhostUserError(e) ? e : new VhostUserError('DEVICE_FAILED', String((e as Error)?.message ?? e), { cause: e }));
    });
  }

  private async handle(fm: FramedMessage): Promise<void> {
    if (this.conn.isClosed) { for (const fd of fm.fds) safeClose(fd); return; }
    const { request, flags } = fm.header;
    const name = describeRequest('request', request);
    let msg: VhostUserMessage | null = null;
    try {
      msg = decodeMessage(fm.header, fm.payload, fm.fds, 'request');
      this.handled++;
      this.log.debug({ request: name, flags, size: fm.header.size, fds: fm.fds.length }, 'vhost-user request');
      const reply = await this.dispatch(msg);
      if (reply !== undefined) this.reply(request, reply, reply.fds);
      else if (needsReply(flags)) this.reply(request, { kind: 'u64', value: 0n });
    } catch (e) {
      // Whatever fds the failed request carried and nobody took are closed (ownership rule:
      // handlers take fds only on success).
      for (const fd of fm.fds) if (fd >= 0) safeClose(fd);
      const ve = isVhostUserError(e) ? e : new VhostUserError('DEVICE_FAILED', `${name}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      this.log.error({ request: name, reason: ve.reason, err: ve.message }, 'vhost-user request failed');
      if (request === FrontendRequest.GET_CONFIG && fm.header.size >= 12 && !this.conn.isClosed) {
        this.reply(request, { kind: 'raw', bytes: new Uint8Array(0) });
      } else if (needsReply(flags) && !HAS_REPLY_BODY.has(request) && !this.conn.isClosed) {
        this.reply(request, { kind: 'u64', value: 1n });
      } else {
        this.conn.close(ve);
      }
    }
  }

  /**
   * Never throws: a reply the socket refuses (the peer shut down its read side, or reset) ends
   * this connection — `send` closes it, and its teardown runs next on the chain.
   */
  private reply(request: number, payload: Payload & { fds?: number[] }, fds: number[] = []): void {
    if (this.conn.isClosed) return;
    try {
      this.conn.send(encodeMessage({ request, flags: REPLY_FLAGS, payload }), fds);
    } catch (e) {
      const ve = isVhostUserError(e) ? e : new VhostUserError('SOCKET_ERROR', String((e as Error)?.message ?? e), { cause: e });
      this.log.warn({ request: describeRequest('request', request), reason: ve.reason, err: ve.message }, 'vhost-user reply not sent; closing the connection');
      this.conn.close(ve);
    }
  }

  private vring(index: number, request: number): VringState {
    const v = this.vrings[index];
    if (v === undefined) throw err('QUEUE_INDEX_OUT_OF_RANGE', `${describeRequest('request', request)}: queue ${index} >= queue count ${this.vrings.length}`);
    return v;
  }

  private get protocolNegotiated(): boolean { return (this.ackedFeatures & PROTOCOL_FEATURES_BIT) !== 0n; }
  private hasProtocol(f: VhostUserProtocolFeatureName): boolean { return (this.ackedProtocol & (1n << BigInt(VhostUserProtocolFeature[f]))) !== 0n; }

  /** Returns a reply payload for requests with a reply body, undefined otherwise. */
  private async dispatch(m: VhostUserMessage): Promise<(Payload & { fds?: number[] }) | undefined> {
    const p = m.payload;
    const R = FrontendRequest;
    switch (m.request) {
      case R.GET_FEATURES: return { kind: 'u64', value: this.device.features | PROTOCOL_FEATURES_BIT };
      case R.SET_FEATURES: {
        const v = (p as { value: bigint }).value;
        const offered = this.device.features | PROTOCOL_FEATURES_BIT;
        if ((v & ~offered) !== 0n) throw err('FEATURES_INVALID', `SET_FEATURES 0x${v.toString(16)} acks bits not offered (0x${offered.toString(16)})`);
        this.ackedFeatures = v;
        this.device.setFeatures(v & ~PROTOCOL_FEATURES_BIT);
        // Without protocol features rings start enabled (spec "Ring states").
        if (!this.protocolNegotiated) for (let i = 0; i < this.vrings.length; i++) { this.vrings[i]!.enabled = true; this.tryStart(i); }
        return undefined;
      }
      case R.GET_PROTOCOL_FEATURES: return { kind: 'u64', value: this.offeredProtocol };
      case R.SET_PROTOCOL_FEATURES: {
        const v = (p as { value: bigint }).value;
        if ((v & ~this.offeredProtocol) !== 0n) throw err('FEATURES_INVALID', `SET_PROTOCOL_FEATURES 0x${v.toString(16)} not a subset of 0x${this.offeredProtocol.toString(16)}`);
        this.ackedProtocol = v;
        return undefined;
      }
      case R.SET_OWNER: return undefined;
      case R.RESET_OWNER: await this.stopAll(); return undefined; // deprecated; spec: "disable all rings"
      case R.RESET_DEVICE: {
        await this.stopAll();
        for (const v of this.vrings) this.closeVringFds(v);
        this.vrings = this.vrings.map(newVring);
        this.ackedFeatures = 0n; this.status = 0;
        this.device.reset?.();
        return undefined;
      }
      case R.SET_MEM_TABLE: {
        if (p.kind !== 'memTable') break;
        const fds = m.fds.slice();
        m.fds.fill(-1); // ownership moves to the memory table (it closes them on failure)
        let running: number[];
        try { running = await this.stopAll(); } catch (e) { for (const fd of fds) safeClose(fd); throw e; }
        this.memTable.setTable(p.regions, fds);
        for (const i of running) this.tryStart(i);
        return undefined;
      }
      case R.GET_MAX_MEM_SLOTS: return { kind: 'u64', value: BigInt(this.memTable.maxSlots) };
      case R.ADD_MEM_REG: {
        if (p.kind !== 'memRegion') break;
        const fd = m.fds[0]!;
        m.fds.fill(-1); // ownership moves to the memory table (it closes it on failure)
        this.memTable.addRegion(p.region, fd);
        for (let i = 0; i < this.vrings.length; i++) this.tryStart(i);
        return undefined;
      }
      case R.REM_MEM_REG: {
        if (p.kind !== 'memRegion') break;
        for (const fd of m.fds) safeClose(fd); // spec: MAY come with one fd, which must be closed unused
        m.fds.fill(-1);
        const running = await this.stopAll();
        this.memTable.removeRegion(p.region);
        for (const i of running) this.tryStart(i);
        return undefined;
      }
      case R.SET_VRING_NUM: {
        if (p.kind !== 'vringState') break;
        const v = this.vring(p.state.index, m.request);
        const n = p.state.num;
        if (n === 0 || n > VIRTQUEUE_MAX_SIZE || (n & (n - 1)) !== 0) throw err('VRING_NUM_INVALID', `queue ${p.state.index}: size ${n} is not a power of two in 1..${VIRTQUEUE_MAX_SIZE}`);
        v.num = n; v.config = null;
        return undefined;
      }
      case R.SET_VRING_ADDR: {
        if (p.kind !== 'vringAddr') break;
        const v = this.vring(p.addr.index, m.request);
        if (this.memTable.regionCount === 0) throw err('OUT_OF_ORDER', `SET_VRING_ADDR for queue ${p.addr.index} before any memory table`);
        if (v.num === 0) throw err('OUT_OF_ORDER', `SET_VRING_ADDR for queue ${p.addr.index} before SET_VRING_NUM`);
        v.addr = p.addr;
        v.config = this.translate(v);
        this.tryStart(p.addr.index);
        return undefined;
      }
      case R.SET_VRING_BASE: {
        if (p.kind !== 'vringState') break;
        const v = this.vring(p.state.index, m.request);
        if (p.state.num > 0xffff) throw err('VRING_BASE_INVALID', `queue ${p.state.index}: base ${p.state.num} > 0xffff`);
        v.lastAvailIdx = p.state.num;
        return undefined;
      }
      case R.GET_VRING_BASE: {
        if (p.kind !== 'vringState') break;
        const v = this.vring(p.state.index, m.request);
        await this.stop(p.state.index);
        // Spec "Ring states": the ring is stopped now; the front-end sends new kick/call fds to restart.
        if (v.kickFd >= 0) safeClose(v.kickFd);
        v.kickFd = -1; v.kickSet = false;
        return { kind: 'vringState', state: { index: p.state.index, num: v.lastAvailIdx } };
      }
      case R.SET_VRING_KICK:
      case R.SET_VRING_CALL:
      case R.SET_VRING_ERR: {
        if (p.kind !== 'u64') break;
        const index = Number(p.value & VHOST_USER_VRING_IDX_MASK);
        if ((p.value & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) !== 0n) throw err('RESERVED_BITS_SET', `${describeRequest('request', m.request)}: reserved bits set in 0x${p.value.toString(16)}`);
        const v = this.vring(index, m.request);
        const fd = m.fds[0] ?? -1;
        m.fds.fill(-1);
        try {
          await this.replaceVringFd(m.request, index, v, fd);
        } catch (e) { if (fd >= 0) safeClose(fd); throw e; }
        return undefined;
      }
      case R.SET_VRING_ENABLE: {
        if (p.kind !== 'vringState') break;
        const v = this.vring(p.state.index, m.request);
        if (p.state.num > 1) throw err('VALUE_OUT_OF_RANGE', `SET_VRING_ENABLE num ${p.state.num} is not 0 or 1`);
        v.enabled = p.state.num === 1;
        if (v.enabled) this.tryStart(p.state.index);
        else await this.stop(p.state.index);
        return undefined;
      }
      case R.GET_QUEUE_NUM: return { kind: 'u64', value: BigInt(this.vrings.length) };
      case R.GET_CONFIG: {
        if (p.kind !== 'config') break;
        const { offset, size } = p.config;
        if (offset + size > this.device.configSize) throw err('CONFIG_OUT_OF_RANGE', `GET_CONFIG [${offset}, +${size}) outside ${this.device.configSize}-byte config`);
        const data = this.device.getConfig(offset, size);
        if (data.byteLength !== size) throw err('DEVICE_FAILED', `device returned ${data.byteLength} config bytes, expected ${size}`);
        return { kind: 'config', config: { offset, size, flags: p.config.flags, data } };
      }
      case R.SET_CONFIG: {
        if (p.kind !== 'config') break;
        const { offset, size } = p.config;
        if (offset + size > this.device.configSize) throw err('CONFIG_OUT_OF_RANGE', `SET_CONFIG [${offset}, +${size}) outside ${this.device.configSize}-byte config`);
        if (!this.device.setConfig) throw err('UNSUPPORTED_REQUEST', 'device config space is read-only');
        this.device.setConfig(offset, p.config.data);
        return undefined;
      }
      case R.SET_BACKEND_REQ_FD: {
        const fd = m.fds[0]!;
        checkSocketFd(fd, 'SET_BACKEND_REQ_FD');
        m.fds.fill(-1);
        this.backendReq?.close();
        // Replies on this channel (REPLY_ACK) are read and dropped; nothing else flows back.
        this.backendReq = new VhostUserConnection(fd, 'backendReply', {
          onMessage: (fm) => { for (const f of fm.fds) safeClose(f); },
          onClose: (e) => { if (e && e.reason !== 'PEER_CLOSED') this.log.warn({ reason: e.reason, err: e.message }, 'backend request channel closed'); },
        });
        const ch = this.backendReq;
        this.device.attachBackendChannel?.({
          configChanged: () => {
            if (ch.isClosed) return;
            try {
              ch.send(encodeMessage({ request: BackendRequest.CONFIG_CHANGE_MSG, flags: REQUEST_FLAGS, payload: { kind: 'none' } }));
            } catch (e) { this.log.warn({ err: (e as Error).message }, 'BACKEND_CONFIG_CHANGE_MSG not sent'); }
          },
        });
        return undefined;
      }
      case R.GET_INFLIGHT_FD: {
        if (p.kind !== 'inflight') break;
        const { numQueues, queueSize } = p.inflight;
        if (numQueues === 0 || numQueues > this.vrings.length || queueSize === 0 || queueSize > VIRTQUEUE_MAX_SIZE) {
          throw err('INFLIGHT_INVALID', `GET_INFLIGHT_FD for ${numQueues} queues of ${queueSize}`);
        }
        const size = inflightBufferSize(numQueues, queueSize);
        const fd = native.memfdCreate('vtcon-inflight');
        try {
          native.ftruncate(fd, size);
          // Sealed: the front-end hands it back with SET_INFLIGHT_FD (also to a restarted
          // back-end), which accepts only memory that cannot shrink.
          native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
          // Zeroed (version 0): each queue stamps its region at its first start (see inflight.ts).
          const sab = native.mmapShared(fd, size, 0);
          this.releaseInflight();
          this.inflight = { fd, sab, size, numQueues, queueSize };
        } catch (e) { safeClose(fd); throw e; }
        return { kind: 'inflight', inflight: { mmapSize: BigInt(size), mmapOffset: 0n, numQueues, queueSize }, fds: [fd] };
      }
      case R.SET_INFLIGHT_FD: {
        if (p.kind !== 'inflight') break;
        const fd = m.fds[0]!;
        const { mmapSize, mmapOffset, numQueues, queueSize } = p.inflight;
        const size = Number(mmapSize);
        if (mmapSize === 0n || mmapSize > 1n << 32n || mmapOffset % 4096n !== 0n || mmapOffset > 1n << 40n || size < inflightBufferSize(numQueues, queueSize)) {
          throw err('INFLIGHT_INVALID', `SET_INFLIGHT_FD size ${mmapSize} offset ${mmapOffset} for ${numQueues}x${queueSize}`);
        }
        checkMemoryFd(fd, Number(mmapOffset) + size, { trustUnsealedMemory: this.trustUnsealedMemory }, 'SET_INFLIGHT_FD');
        const sab = native.mmapShared(fd, size, Number(mmapOffset));
        m.fds.fill(-1);
        this.releaseInflight();
        this.inflight = { fd, sab, size, numQueues, queueSize };
        return undefined;
      }
      case R.SET_STATUS: {
        const prev = this.status;
        this.status = Number((p as { value: bigint }).value & 0xffn);
        // Status 0 is a device reset by the driver (virtio 1.2 §2.1, §3.1.1; vhost-user.rst
        // SET_STATUS). Unlike "every queue stopped" (QEMU 11.1.3 sends SET_VRING_ENABLE 0 +
        // GET_VRING_BASE for all queues both on a guest reset and on a mere VM pause, which the
        // device must tell apart itself), this is unambiguous for every device: stop the rings
        // and let the device drop its driver-facing state. Queue set-up (fds, sizes, addresses)
        // is the front-end's to redo; it is kept until then.
        if (this.status === 0 && prev !== 0) {
          await this.stopAll();
          this.device.reset?.();
        }
        return undefined;
      }
      case R.GET_STATUS: return { kind: 'u64', value: BigInt(this.status) };
      default:
        throw err('UNSUPPORTED_REQUEST', `${describeRequest('request', m.request)} is not supported by this back-end`);
    }
    throw err('PAYLOAD_KIND_MISMATCH', `${describeRequest('request', m.request)}: unexpected payload kind ${p.kind}`);
  }

  private async replaceVringFd(request: number, index: number, v: VringState, fd: number): Promise<void> {
    // Checked before anything changes: a refused fd leaves the queue as it was.
    // No fd (the no-fd bit) is valid: the front-end polls (spec SET_VRING_KICK / SET_VRING_CALL).
    const use: EventfdUse = request === FrontendRequest.SET_VRING_KICK ? 'kick' : request === FrontendRequest.SET_VRING_CALL ? 'call' : 'err';
    if (fd >= 0) checkEventfd(fd, use, `${describeRequest('request', request)} queue ${index}`);
    if (request === FrontendRequest.SET_VRING_KICK) {
      await this.stop(index);
      if (v.kickFd >= 0) safeClose(v.kickFd);
      v.kickFd = fd; v.kickSet = true;
      if (!this.protocolNegotiated) v.enabled = true; // no SET_VRING_ENABLE will come: start on kick
      this.tryStart(index);
    } else if (request === FrontendRequest.SET_VRING_CALL) {
      // The device may be signalling the old fd: stop it first, close the old fd, restart.
      const wasStarted = v.started;
      await this.stop(index);
      if (v.callFd >= 0) safeClose(v.callFd);
      v.callFd = fd;
      if (wasStarted) this.tryStart(index);
    } else {
      if (v.errFd >= 0) safeClose(v.errFd);
      v.errFd = fd;
    }
  }

  /** SET_VRING_ADDR user addresses → guest-physical QueueConfig (spec "Memory access"). */
  private translate(v: VringState): QueueConfig {
    const a = v.addr!;
    const n = v.num;
    const descAddr = this.memTable.userToGuestPhys(a.descUserAddr, 16 * n);
    const availAddr = this.memTable.userToGuestPhys(a.availUserAddr, 6 + 2 * n);
    const usedAddr = this.memTable.userToGuestPhys(a.usedUserAddr, 6 + 8 * n);
    return {
      descAddr, availAddr, usedAddr, size: n,
      eventIdx: (this.ackedFeatures & RING_F_EVENT_IDX) !== 0n,
      indirect: (this.ackedFeatures & RING_F_INDIRECT_DESC) !== 0n,
    };
  }

  /** Start queue i if everything it needs is there (spec "Ring states"). */
  private tryStart(i: number): void {
    const v = this.vrings[i]!;
    const memory = this.memTable.memory;
    if (v.started || !v.enabled || !v.kickSet || v.num === 0 || v.addr === null || memory === null) return;
    // Memory may have changed since SET_VRING_ADDR (ADD/REM_MEM_REG): re-translate.
    v.config = this.translate(v);
    const c = { ...v.config, eventIdx: (this.ackedFeatures & RING_F_EVENT_IDX) !== 0n };
    // used.idx lives in guest memory (written only by us, before any restart): resume from it.
    const usedIdx = new DataView(memory.view(c.usedAddr, 4).slice().buffer).getUint16(2, true);
    // Inflight tracking (SET/GET_INFLIGHT_FD): a region that carries state from an earlier start
    // (this back-end's or a crashed predecessor's) decides where popping resumes and which heads
    // are handed out again; SET_VRING_BASE only counts for a fresh region.
    let inflight: InflightQueue | null = null;
    let resubmit: number[] = [];
    let lastAvailIdx = v.lastAvailIdx;
    const inf = this.inflight;
    if (inf && i < inf.numQueues) {
      if (v.num <= inf.queueSize) {
        const per = inflightQueueRegionSize(inf.queueSize);
        inflight = new InflightQueue(new Uint8Array(inf.sab, i * per, per), v.num);
        const r = inflight.recover(usedIdx, v.lastAvailIdx);
        resubmit = r.resubmit;
        lastAvailIdx = r.lastAvailIdx;
        if (r.recovered) this.log.info({ queue: i, usedIdx, resubmit: resubmit.length, lastAvailIdx, setVringBase: v.lastAvailIdx }, 'vhost-user queue recovered from its inflight region');
      } else {
        this.log.warn({ queue: i, size: v.num, inflightQueueSize: inf.queueSize }, 'queue larger than its inflight region: not tracked');
      }
    }
    v.started = true;
    this.log.info({ queue: i, size: v.num, lastAvailIdx, usedIdx }, 'vhost-user queue started');
    this.device.startQueue(i, {
      index: i, memory, config: c, lastAvailIdx, usedIdx,
      kickFd: v.kickFd, callFd: v.callFd, regionFds: this.memTable.regionFds, inflight, resubmit,
    });
  }

  private async stop(i: number): Promise<void> {
    const v = this.vrings[i]!;
    if (!v.started) return;
    v.started = false;
    const st = await this.device.stopQueue(i);
    v.lastAvailIdx = st.lastAvailIdx & 0xffff;
    this.log.info({ queue: i, lastAvailIdx: v.lastAvailIdx }, 'vhost-user queue stopped');
  }

  /** Stop every started queue; returns the indices that were running. */
  private async stopAll(): Promise<number[]> {
    const running: number[] = [];
    for (let i = 0; i < this.vrings.length; i++) if (this.vrings[i]!.started) { running.push(i); await this.stop(i); }
    return running;
  }

  private closeVringFds(v: VringState): void {
    for (const fd of [v.kickFd, v.callFd, v.errFd]) if (fd >= 0) safeClose(fd);
    v.kickFd = -1; v.callFd = -1; v.errFd = -1; v.kickSet = false;
  }

  private releaseInflight(): void {
    if (!this.inflight) return;
    try { native.releaseMapping(this.inflight.sab); } catch (e) {
      this.log.error({ reason: 'MAPPING_RELEASE_FAILED', err: (e as Error).message }, 'inflight buffer mapping not released');
    }
    safeClose(this.inflight.fd);
    this.inflight = null;
  }

  private async teardown(e: VhostUserError | null): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    if (e && e.reason !== 'PEER_CLOSED') this.log.error({ reason: e.reason, err: e.message }, 'vhost-user connection closed on error');
    else this.log.info({ requests: this.handled }, 'vhost-user front-end disconnected');
    for (let i = 0; i < this.vrings.length; i++) {
      try { await this.stop(i); } catch (se) { this.log.warn({ queue: i, err: (se as Error).message }, 'stopQueue failed during disconnect'); }
    }
    for (const v of this.vrings) this.closeVringFds(v);
    this.backendReq?.close();
    this.backendReq = null;
    this.releaseInflight();
    this.memTable.release();
    try { this.device.disconnected(); } catch (de) { this.log.warn({ err: (de as Error).message }, 'device.disconnected threw'); }
    this.resolveDone();
  }
}

export class VhostUserBackend {
  readonly socketPath: string;
  private readonly createDevice: () => VhostUserDevice;
  private readonly log: Logger;
  private readonly offeredProtocol: bigint;
  private readonly maxSlots: number;
  private readonly trustUnsealedMemory: boolean;
  private listenFd = -1;
  private listenWatch: { stop(): void } | null = null;
  private session: BackendSession | null = null;
  private closing = false;
  /** Connections served so far (tests, metrics). */
  connections = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(opts: VhostUserBackendOptions) {
    this.socketPath = opts.socketPath;
    this.createDevice = opts.createDevice;
    this.log = opts.logger ?? silentLogger;
    this.offeredProtocol = protocolFeatureMask(opts.protocolFeatures ?? SUPPORTED_PROTOCOL_FEATURES);
    this.maxSlots = Math.min(opts.maxMemSlots ?? VHOST_USER_MAX_MEM_REGIONS, 509);
    this.trustUnsealedMemory = opts.trustUnsealedMemory === true;
  }

  get connected(): boolean { return this.session !== null; }

  /** Start listening (unlinks a stale socket file). */
  listen(): void {
    if (this.listenFd >= 0) return;
    this.listenFd = native.listenUnix(this.socketPath);
    this.watchListen();
    this.log.info({ socket: this.socketPath }, 'vhost-user backend listening');
  }

  /** Resolves when the current connection (if any) has been fully torn down. */
  async idle(): Promise<void> { if (this.session) await this.session.done; }

  /** Resolves when a connection has been accepted (for tests). */
  waitForConnection(): Promise<void> {
    if (this.session) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Close the current connection (if any) and stop listening. */
  async close(): Promise<void> {
    this.closing = true;
    this.listenWatch?.stop(); this.listenWatch = null;
    if (this.listenFd >= 0) { safeClose(this.listenFd); this.listenFd = -1; }
    const s = this.session;
    if (s) { s.conn.close(); await s.done; }
    try { (await import('node:fs')).unlinkSync(this.socketPath); } catch { /* already gone */ }
  }

  /** Drop the current connection (as if the peer had gone), keep listening. */
  async disconnect(): Promise<void> {
    const s = this.session;
    if (s) { s.conn.close(); await s.done; }
  }

  private watchListen(): void {
    this.listenWatch = native.watchFd(this.listenFd, 'readable', (readable) => { if (readable) this.onAcceptable(); }, (e) => {
      // Only a bug gets here (onAcceptable catches what a peer can cause): say so loudly; the
      // watch has stopped, so this socket takes no new front-end.
      this.log.error({ err: (e as Error)?.message ?? String(e), socket: this.socketPath }, 'vhost-user accept handler threw; no longer accepting');
      this.listenWatch = null;
    });
  }

  private onAcceptable(): void {
    if (this.session || this.closing) return;
    let fd: number | null;
    try { fd = native.accept(this.listenFd); } catch (e) { this.log.warn({ err: (e as Error).message }, 'accept failed'); return; }
    if (fd === null) return;
    // One front-end at a time: stop accepting until this one is gone.
    this.listenWatch?.stop(); this.listenWatch = null;
    let device: VhostUserDevice;
    try { device = this.createDevice(); } catch (e) {
      this.log.error({ err: (e as Error).message }, 'createDevice failed; connection refused');
      safeClose(fd); this.watchListen(); return;
    }
    let s: BackendSession;
    try {
      s = new BackendSession(fd, device, this.log, { offeredProtocol: this.offeredProtocol, maxSlots: this.maxSlots, trustUnsealedMemory: this.trustUnsealedMemory });
    } catch (e) {
      // The connection closed its fd itself (VhostUserConnection owns it from the start).
      this.log.error({ err: (e as Error).message }, 'vhost-user connection could not be set up');
      try { device.disconnected(); } catch { /* nothing was started */ }
      this.watchListen(); return;
    }
    this.connections++;
    this.session = s;
    this.log.info({ socket: this.socketPath }, 'vhost-user front-end connected');
    for (const w of this.waiters.splice(0)) w();
    void s.done.then(() => {
      if (this.session === s) this.session = null;
      if (!this.closing && this.listenFd >= 0) this.watchListen();
    });
  }
}
