/**
 * Vring payloads (vhost-user.rst "Message Specification"): the vring state (index + num; also
 * the base, the enable flag and the endian) and the vring address description.
 */
export interface VringState { index: number; num: number }
export interface VringAddr {
  index: number; flags: number;
  descUserAddr: bigint; usedUserAddr: bigint; availUserAddr: bigint; logGuestAddr: bigint;
}

export const VRING_STATE_BYTES = 8;
export const VRING_ADDR_BYTES = 40;

export function writeVringState(dv: DataView, s: VringState): void {
  dv.setUint32(0, s.index >>> 0, true); dv.setUint32(4, s.num >>> 0, true);
}
export function readVringState(dv: DataView): VringState {
  return { index: dv.getUint32(0, true), num: dv.getUint32(4, true) };
}

export function writeVringAddr(dv: DataView, a: VringAddr): void {
  dv.setUint32(0, a.index >>> 0, true);
  dv.setUint32(4, a.flags >>> 0, true);
  dv.setBigUint64(8, a.descUserAddr, true);
  dv.setBigUint64(16, a.usedUserAddr, true);
  dv.setBigUint64(24, a.availUserAddr, true);
  dv.setBigUint64(32, a.logGuestAddr, true);
}
export function readVringAddr(dv: DataView): VringAddr {
  return {
    index: dv.getUint32(0, true), flags: dv.getUint32(4, true),
    descUserAddr: dv.getBigUint64(8, true), usedUserAddr: dv.getBigUint64(16, true),
    availUserAddr: dv.getBigUint64(24, true), logGuestAddr: dv.getBigUint64(32, true),
  };
}
