/**
 * Vring requests (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE, GET_VRING_BASE, GET_QUEUE_NUM)
 * and the ring states they drive (vhost-user.rst "Ring states"): a queue starts once it is
 * enabled, kicked, sized, addressed and memory is there, and stops before anything it uses
 * changes.
 */
import { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, type QueueConfig } from '@vtcon/ring';
import { safeClose } from '../socket/connection.js';
import type { VhostUserMessage } from './message.js';
import { describeRequest } from './message-header.js';
import type { VringAddr, VringState as WireVringState } from './message-vring.js';
import { FrontendRequest, VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK, VIRTQUEUE_MAX_SIZE } from './codes.js';
import { InflightQueue, inflightQueueRegionSize } from '../memory/inflight.js';
import { checkEventfd, type EventfdUse } from '../socket/received-fd.js';
import { err, type Reply, type SessionState, type VringState } from './backend-state.js';

const RING_F_INDIRECT_DESC = 1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC);
const RING_F_EVENT_IDX = 1n << BigInt(VIRTIO_RING_F_EVENT_IDX);

// ---------------------------------------------------------------- ring states

/** SET_VRING_ADDR user addresses → guest-physical QueueConfig (spec "Memory access"). */
function translate(s: SessionState, v: VringState): QueueConfig {
  const a = v.addr!;
  const n = v.num;
  const descAddr = s.memTable.userToGuestPhys(a.descUserAddr, 16 * n);
  const availAddr = s.memTable.userToGuestPhys(a.availUserAddr, 6 + 2 * n);
  const usedAddr = s.memTable.userToGuestPhys(a.usedUserAddr, 6 + 8 * n);
  return {
    descAddr, availAddr, usedAddr, size: n,
    eventIdx: (s.ackedFeatures & RING_F_EVENT_IDX) !== 0n,
    indirect: (s.ackedFeatures & RING_F_INDIRECT_DESC) !== 0n,
  };
}

/** Start queue i if everything it needs is there (spec "Ring states"). */
export function tryStart(s: SessionState, i: number): void {
  const v = s.vrings[i]!;
  const memory = s.memTable.memory;
  if (v.started || !v.enabled || !v.kickSet || v.num === 0 || v.addr === null || memory === null) return;
  // Memory may have changed since SET_VRING_ADDR (ADD/REM_MEM_REG): re-translate.
  v.config = translate(s, v);
  const c = { ...v.config, eventIdx: (s.ackedFeatures & RING_F_EVENT_IDX) !== 0n };
  // used.idx lives in guest memory (written only by us, before any restart): resume from it.
  const usedIdx = new DataView(memory.view(c.usedAddr, 4).slice().buffer).getUint16(2, true);
  // Inflight tracking (SET/GET_INFLIGHT_FD): a region that carries state from an earlier start
  // (this back-end's or a crashed predecessor's) decides where popping resumes and which heads
  // are handed out again; SET_VRING_BASE only counts for a fresh region.
  let inflight: InflightQueue | null = null;
  let resubmit: number[] = [];
  let lastAvailIdx = v.lastAvailIdx;
  const resumed = v.resumeFromUsed;
  if (resumed) { lastAvailIdx = usedIdx; v.resumeFromUsed = false; }
  const inf = s.inflight;
  if (inf && i < inf.numQueues) {
    if (v.num <= inf.queueSize) {
      const per = inflightQueueRegionSize(inf.queueSize);
      inflight = new InflightQueue(new Uint8Array(inf.sab, i * per, per), v.num);
      const r = inflight.recover(usedIdx, lastAvailIdx);
      resubmit = r.resubmit;
      lastAvailIdx = r.lastAvailIdx;
      if (r.recovered) s.log.info({ queue: i, usedIdx, resubmit: resubmit.length, lastAvailIdx, setVringBase: v.lastAvailIdx }, 'vhost-user queue recovered from its inflight region');
    } else {
      s.log.warn({ queue: i, size: v.num, inflightQueueSize: inf.queueSize }, 'queue larger than its inflight region: not tracked');
    }
  }
  v.started = true;
  s.log.info({ queue: i, size: v.num, lastAvailIdx, usedIdx, ...(resumed ? { resumed } : {}) }, 'vhost-user queue started');
  s.device.startQueue(i, {
    index: i, memory, config: c, lastAvailIdx, usedIdx, resumed,
    kickFd: v.kickFd, callFd: v.callFd, regionFds: s.memTable.regionFds, inflight, resubmit,
  });
}

export async function stop(s: SessionState, i: number): Promise<void> {
  const v = s.vrings[i]!;
  if (!v.started) return;
  v.started = false;
  const st = await s.device.stopQueue(i);
  v.lastAvailIdx = st.lastAvailIdx & 0xffff;
  s.log.info({ queue: i, lastAvailIdx: v.lastAvailIdx }, 'vhost-user queue stopped');
}

/** Stop every started queue; returns the indices that were running. */
export async function stopAll(s: SessionState): Promise<number[]> {
  const running: number[] = [];
  for (let i = 0; i < s.vrings.length; i++) if (s.vrings[i]!.started) { running.push(i); await stop(s, i); }
  return running;
}

export function closeVringFds(v: VringState): void {
  for (const fd of [v.kickFd, v.callFd, v.errFd]) if (fd >= 0) safeClose(fd);
  v.kickFd = -1; v.callFd = -1; v.errFd = -1; v.kickSet = false;
}

// ---------------------------------------------------------------- requests

export function setVringNum(s: SessionState, m: VhostUserMessage, state: WireVringState): Reply {
  const v = s.vring(state.index, m.request);
  const n = state.num;
  if (n === 0 || n > VIRTQUEUE_MAX_SIZE || (n & (n - 1)) !== 0) throw err('VRING_NUM_INVALID', `queue ${state.index}: size ${n} is not a power of two in 1..${VIRTQUEUE_MAX_SIZE}`);
  v.num = n; v.config = null;
  return undefined;
}

export function setVringAddr(s: SessionState, m: VhostUserMessage, addr: VringAddr): Reply {
  const v = s.vring(addr.index, m.request);
  if (s.memTable.regionCount === 0) throw err('OUT_OF_ORDER', `SET_VRING_ADDR for queue ${addr.index} before any memory table`);
  if (v.num === 0) throw err('OUT_OF_ORDER', `SET_VRING_ADDR for queue ${addr.index} before SET_VRING_NUM`);
  v.addr = addr;
  v.config = translate(s, v);
  tryStart(s, addr.index);
  return undefined;
}

export function setVringBase(s: SessionState, m: VhostUserMessage, state: WireVringState): Reply {
  const v = s.vring(state.index, m.request);
  if (state.num > 0xffff) throw err('VRING_BASE_INVALID', `queue ${state.index}: base ${state.num} > 0xffff`);
  v.lastAvailIdx = state.num;
  return undefined;
}

export async function getVringBase(s: SessionState, m: VhostUserMessage, state: WireVringState): Promise<Reply> {
  const v = s.vring(state.index, m.request);
  await stop(s, state.index);
  // Spec "Ring states": the ring is stopped now; the front-end sends new kick/call fds to restart.
  if (v.kickFd >= 0) safeClose(v.kickFd);
  v.kickFd = -1; v.kickSet = false;
  return { kind: 'vringState', state: { index: state.index, num: v.lastAvailIdx } };
}

/** SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR: a u64 (index + no-fd bit) and maybe an eventfd. */
export async function setVringFile(s: SessionState, m: VhostUserMessage, value: bigint): Promise<Reply> {
  const index = Number(value & VHOST_USER_VRING_IDX_MASK);
  if ((value & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) !== 0n) throw err('RESERVED_BITS_SET', `${describeRequest('request', m.request)}: reserved bits set in 0x${value.toString(16)}`);
  const v = s.vring(index, m.request);
  const fd = m.fds[0] ?? -1;
  m.fds.fill(-1);
  try {
    await replaceVringFd(s, m.request, index, v, fd);
  } catch (e) { if (fd >= 0) safeClose(fd); throw e; }
  return undefined;
}

async function replaceVringFd(s: SessionState, request: number, index: number, v: VringState, fd: number): Promise<void> {
  // Checked before anything changes: a refused fd leaves the queue as it was.
  // No fd (the no-fd bit) is valid: the front-end polls (spec SET_VRING_KICK / SET_VRING_CALL).
  const use: EventfdUse = request === FrontendRequest.SET_VRING_KICK ? 'kick' : request === FrontendRequest.SET_VRING_CALL ? 'call' : 'err';
  if (fd >= 0) checkEventfd(fd, use, `${describeRequest('request', request)} queue ${index}`);
  if (request === FrontendRequest.SET_VRING_KICK) {
    await stop(s, index);
    if (v.kickFd >= 0) safeClose(v.kickFd);
    v.kickFd = fd; v.kickSet = true;
    if (!s.protocolNegotiated) v.enabled = true; // no SET_VRING_ENABLE will come: start on kick
    tryStart(s, index);
  } else if (request === FrontendRequest.SET_VRING_CALL) {
    // The device may be signalling the old fd: stop it first, close the old fd, restart.
    const wasStarted = v.started;
    await stop(s, index);
    if (v.callFd >= 0) safeClose(v.callFd);
    v.callFd = fd;
    if (wasStarted) tryStart(s, index);
  } else {
    if (v.errFd >= 0) safeClose(v.errFd);
    v.errFd = fd;
  }
}

export async function setVringEnable(s: SessionState, m: VhostUserMessage, state: WireVringState): Promise<Reply> {
  const v = s.vring(state.index, m.request);
  if (state.num > 1) throw err('VALUE_OUT_OF_RANGE', `SET_VRING_ENABLE num ${state.num} is not 0 or 1`);
  v.enabled = state.num === 1;
  if (v.enabled) tryStart(s, state.index);
  else await stop(s, state.index);
  return undefined;
}

export function getQueueNum(s: SessionState): Reply {
  return { kind: 'u64', value: BigInt(s.vrings.length) };
}
