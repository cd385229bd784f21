/**
 * Ownership, reset and device status: SET_OWNER, RESET_OWNER, RESET_DEVICE, SET_STATUS,
 * GET_STATUS.
 */
import { newVring, type Reply, type SessionState } from './backend-state.js';
import { closeVringFds, stopAll } from './backend-vring.js';

export function setOwner(): Reply {
  return undefined;
}

/** Deprecated; spec: "disable all rings". */
export async function resetOwner(s: SessionState): Promise<Reply> {
  await stopAll(s);
  return undefined;
}

export async function resetDevice(s: SessionState): Promise<Reply> {
  await stopAll(s);
  for (const v of s.vrings) closeVringFds(v);
  s.vrings = s.vrings.map(newVring);
  s.ackedFeatures = 0n; s.status = 0;
  s.device.reset?.();
  return undefined;
}

export async function setStatus(s: SessionState, value: bigint): Promise<Reply> {
  const prev = s.status;
  s.status = Number(value & 0xffn);
  // Status 0 is a device reset by the driver (virtio 1.2 §2.1, §3.1.1; vhost-user.rst
  // SET_STATUS). Unlike "every queue stopped" (QEMU 11.1.3 sends SET_VRING_ENABLE 0 +
  // GET_VRING_BASE for all queues both on a guest reset and on a mere VM pause, which the
  // device must tell apart itself), this is unambiguous for every device: stop the rings
  // and let the device drop its driver-facing state. Queue set-up (fds, sizes, addresses)
  // is the front-end's to redo; it is kept until then.
  if (s.status === 0 && prev !== 0) {
    await stopAll(s);
    s.device.reset?.();
  }
  return undefined;
}

export function getStatus(s: SessionState): Reply {
  return { kind: 'u64', value: BigInt(s.status) };
}
