/**
 * Inflight I/O tracking requests (GET_INFLIGHT_FD, SET_INFLIGHT_FD; protocol feature
 * INFLIGHT_SHMFD): the shared buffer in which each queue records the chains it has popped but
 * not yet used, so a restarted back-end resumes them (memory/inflight.ts).
 */
import * as native from '../native.js';
import { safeClose } from '../socket/connection.js';
import type { VhostUserMessage } from './message.js';
import type { InflightDescription } from './message-memory.js';
import { VIRTQUEUE_MAX_SIZE } from './codes.js';
import { inflightBufferSize } from '../memory/inflight.js';
import { checkMemoryFd } from '../socket/received-fd.js';
import { err, type Reply, type SessionState } from './backend-state.js';

export function getInflightFd(s: SessionState, inflight: InflightDescription): Reply {
  const { numQueues, queueSize } = inflight;
  if (numQueues === 0 || numQueues > s.vrings.length || queueSize === 0 || queueSize > VIRTQUEUE_MAX_SIZE) {
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
    releaseInflight(s);
    s.inflight = { fd, sab, size, numQueues, queueSize };
  } catch (e) { safeClose(fd); throw e; }
  return { kind: 'inflight', inflight: { mmapSize: BigInt(size), mmapOffset: 0n, numQueues, queueSize }, fds: [fd] };
}

export function setInflightFd(s: SessionState, m: VhostUserMessage, inflight: InflightDescription): Reply {
  const fd = m.fds[0]!;
  const { mmapSize, mmapOffset, numQueues, queueSize } = inflight;
  const size = Number(mmapSize);
  if (mmapSize === 0n || mmapSize > 1n << 32n || mmapOffset % 4096n !== 0n || mmapOffset > 1n << 40n || size < inflightBufferSize(numQueues, queueSize)) {
    throw err('INFLIGHT_INVALID', `SET_INFLIGHT_FD size ${mmapSize} offset ${mmapOffset} for ${numQueues}x${queueSize}`);
  }
  checkMemoryFd(fd, Number(mmapOffset) + size, { trustUnsealedMemory: s.trustUnsealedMemory }, 'SET_INFLIGHT_FD');
  const sab = native.mmapShared(fd, size, Number(mmapOffset));
  m.fds.fill(-1);
  releaseInflight(s);
  s.inflight = { fd, sab, size, numQueues, queueSize };
  return undefined;
}

export function releaseInflight(s: SessionState): void {
  if (!s.inflight) return;
  try { native.releaseMapping(s.inflight.sab); } catch (e) {
    s.log.error({ reason: 'MAPPING_RELEASE_FAILED', err: (e as Error).message }, 'inflight buffer mapping not released');
  }
  safeClose(s.inflight.fd);
  s.inflight = null;
}
