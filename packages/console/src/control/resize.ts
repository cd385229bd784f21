/**
 * RESIZE payload (virtio 1.2 §5.3.6.2: struct virtio_console_resize { le16 cols; le16 rows; }).
 *
 * Why an order setting: Linux's drivers/char/virtio_console.c read the payload as
 * { rows, cols } from 2.6.35 until 6.14; 6.15 switched to the spec's order (commit
 * "virtio_console: fix order of fields cols and rows", backported to 6.12.x stable).
 * So the right order depends on the guest kernel: 'cols-rows' is the spec, 'rows-cols'
 * old Linux. The end-to-end test against the real guest settles the default.
 */
import { ConsoleError } from '../errors.js';

export type ResizeOrder = 'cols-rows' | 'rows-cols';
export const DEFAULT_RESIZE_ORDER: ResizeOrder = 'cols-rows';
export const RESIZE_PAYLOAD_SIZE = 4;

export interface ConsoleSize { cols: number; rows: number }

export function encodeResize(size: ConsoleSize, order: ResizeOrder = DEFAULT_RESIZE_ORDER): Uint8Array {
  checkSize(size);
  const out = new Uint8Array(RESIZE_PAYLOAD_SIZE);
  const dv = new DataView(out.buffer);
  const [a, b] = order === 'cols-rows' ? [size.cols, size.rows] : [size.rows, size.cols];
  dv.setUint16(0, a, true);
  dv.setUint16(2, b, true);
  return out;
}

export function decodeResize(payload: Uint8Array, order: ResizeOrder = DEFAULT_RESIZE_ORDER): ConsoleSize {
  if (payload.length < RESIZE_PAYLOAD_SIZE) {
    throw new ConsoleError('CONTROL_TOO_SHORT', `RESIZE payload of ${payload.length} bytes, need ${RESIZE_PAYLOAD_SIZE}`);
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const a = dv.getUint16(0, true);
  const b = dv.getUint16(2, true);
  return order === 'cols-rows' ? { cols: a, rows: b } : { cols: b, rows: a };
}

export function checkSize(size: ConsoleSize): void {
  for (const [k, v] of [['cols', size.cols], ['rows', size.rows]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new ConsoleError('BAD_OPTIONS', `${k}=${v} is not a le16`);
    }
  }
}
