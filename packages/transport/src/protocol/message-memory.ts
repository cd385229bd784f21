/**
 * Payloads that describe memory the front-end shares by fd (vhost-user.rst "Message
 * Specification"): guest RAM regions (SET_MEM_TABLE's table, ADD/REM_MEM_REG's single region),
 * the dirty log (SET_LOG_BASE) and the inflight buffer (GET/SET_INFLIGHT_FD). u64 fields stay
 * `bigint`: their range is checked where they are used (memory/).
 */
export interface MemoryRegionDescription { guestPhysAddr: bigint; memorySize: bigint; userAddr: bigint; mmapOffset: bigint }
export interface InflightDescription { mmapSize: bigint; mmapOffset: bigint; numQueues: number; queueSize: number }
export interface LogDescription { mmapSize: bigint; mmapOffset: bigint }

export const MEM_REGION_BYTES = 32;
export const MEM_TABLE_HEADER_BYTES = 8;
/** C struct VhostUserInflight {u64, u64, u16, u16} has 4 bytes of tail padding: sizeof is 24. */
export const INFLIGHT_DESC_BYTES = 24;

export function writeRegion(dv: DataView, off: number, r: MemoryRegionDescription): void {
  dv.setBigUint64(off, r.guestPhysAddr, true);
  dv.setBigUint64(off + 8, r.memorySize, true);
  dv.setBigUint64(off + 16, r.userAddr, true);
  dv.setBigUint64(off + 24, r.mmapOffset, true);
}
export function readRegion(dv: DataView, off: number): MemoryRegionDescription {
  return {
    guestPhysAddr: dv.getBigUint64(off, true),
    memorySize: dv.getBigUint64(off + 8, true),
    userAddr: dv.getBigUint64(off + 16, true),
    mmapOffset: dv.getBigUint64(off + 24, true),
  };
}

/** The table's region count and its regions; the 4 bytes after the count are padding. */
export function writeMemTable(dv: DataView, regions: readonly MemoryRegionDescription[]): void {
  dv.setUint32(0, regions.length, true);
  regions.forEach((r, i) => writeRegion(dv, MEM_TABLE_HEADER_BYTES + i * MEM_REGION_BYTES, r));
}

export function writeInflight(dv: DataView, d: InflightDescription): void {
  dv.setBigUint64(0, d.mmapSize, true);
  dv.setBigUint64(8, d.mmapOffset, true);
  dv.setUint16(16, d.numQueues, true);
  dv.setUint16(18, d.queueSize, true);
}
export function readInflight(dv: DataView): InflightDescription {
  return {
    mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true),
    numQueues: dv.getUint16(16, true), queueSize: dv.getUint16(18, true),
  };
}
