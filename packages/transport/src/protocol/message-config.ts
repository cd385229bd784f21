/**
 * The device config space payload of GET_CONFIG / SET_CONFIG (vhost-user.rst "Message
 * Specification": offset, size, flags, then `size` bytes of config space).
 */
export interface ConfigSpace { offset: number; size: number; flags: number; data: Uint8Array }

export const CONFIG_HEADER_BYTES = 12;

export function writeConfig(dv: DataView, out: Uint8Array, c: ConfigSpace): void {
  dv.setUint32(0, c.offset >>> 0, true);
  dv.setUint32(4, c.size >>> 0, true);
  dv.setUint32(8, c.flags >>> 0, true);
  out.set(c.data, CONFIG_HEADER_BYTES);
}
/** The config bytes are copied out of `payload`. */
export function readConfig(dv: DataView, payload: Uint8Array): ConfigSpace {
  const size = dv.getUint32(4, true);
  return {
    offset: dv.getUint32(0, true), size, flags: dv.getUint32(8, true),
    data: payload.slice(CONFIG_HEADER_BYTES, CONFIG_HEADER_BYTES + size),
  };
}
