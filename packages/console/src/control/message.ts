/**
 * struct virtio_console_control codec (virtio 1.2 §5.3.6.2):
 *   le32 id; le16 event; le16 value;  followed, for PORT_NAME and RESIZE, by a payload.
 * Pure functions on bytes, no I/O: the device and the driver model both use them.
 */
import { ConsoleError } from '../errors.js';
import { CONTROL_HEADER_SIZE } from './constants.js';

export interface ControlMessage {
  /** Port id (VIRTIO_CONSOLE_BAD_ID for DEVICE_READY). */
  id: number;
  event: number;
  value: number;
  /** Bytes after the 8-byte header (PORT_NAME name, RESIZE size); empty when none. */
  payload: Uint8Array;
}

export function encodeControl(id: number, event: number, value: number, payload?: Uint8Array): Uint8Array {
  const out = new Uint8Array(CONTROL_HEADER_SIZE + (payload?.length ?? 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, id >>> 0, true);
  dv.setUint16(4, event & 0xffff, true);
  dv.setUint16(6, value & 0xffff, true);
  if (payload) out.set(payload, CONTROL_HEADER_SIZE);
  return out;
}

/**
 * Decode one control buffer. Throws ConsoleError('CONTROL_TOO_SHORT') when fewer than 8 bytes
 * arrived; the payload is a copy so the caller may recycle the guest buffer at once.
 */
export function decodeControl(bytes: Uint8Array): ControlMessage {
  if (bytes.length < CONTROL_HEADER_SIZE) {
    throw new ConsoleError('CONTROL_TOO_SHORT', `control message of ${bytes.length} bytes, need ${CONTROL_HEADER_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: dv.getUint32(0, true),
    event: dv.getUint16(4, true),
    value: dv.getUint16(6, true),
    payload: bytes.slice(CONTROL_HEADER_SIZE),
  };
}
