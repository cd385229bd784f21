/**
 * struct virtio_console_config (virtio 1.2 §5.3.4):
 *   le16 cols; le16 rows; le32 max_nr_ports; le32 emerg_wr;   (12 bytes)
 * cols/rows are valid with F_SIZE, max_nr_ports with F_MULTIPORT, emerg_wr (write-only for the
 * driver) with F_EMERG_WRITE. Reads of emerg_wr return 0.
 */
import { ConsoleError } from '../errors.js';

export const VIRTIO_CONSOLE_CONFIG_SIZE = 12;
export const CONFIG_OFFSET_COLS = 0;
export const CONFIG_OFFSET_ROWS = 2;
export const CONFIG_OFFSET_MAX_NR_PORTS = 4;
export const CONFIG_OFFSET_EMERG_WR = 8;

export interface ConsoleConfig { cols: number; rows: number; maxNrPorts: number; emergWr: number }

export function encodeConfig(c: ConsoleConfig): Uint8Array {
  const out = new Uint8Array(VIRTIO_CONSOLE_CONFIG_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint16(CONFIG_OFFSET_COLS, c.cols, true);
  dv.setUint16(CONFIG_OFFSET_ROWS, c.rows, true);
  dv.setUint32(CONFIG_OFFSET_MAX_NR_PORTS, c.maxNrPorts >>> 0, true);
  dv.setUint32(CONFIG_OFFSET_EMERG_WR, c.emergWr >>> 0, true);
  return out;
}

export function decodeConfig(bytes: Uint8Array): ConsoleConfig {
  if (bytes.length < VIRTIO_CONSOLE_CONFIG_SIZE) {
    throw new ConsoleError('CONFIG_OUT_OF_RANGE', `config of ${bytes.length} bytes, need ${VIRTIO_CONSOLE_CONFIG_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    cols: dv.getUint16(CONFIG_OFFSET_COLS, true),
    rows: dv.getUint16(CONFIG_OFFSET_ROWS, true),
    maxNrPorts: dv.getUint32(CONFIG_OFFSET_MAX_NR_PORTS, true),
    emergWr: dv.getUint32(CONFIG_OFFSET_EMERG_WR, true),
  };
}

/** Slice [offset, offset+size) of the config; throws CONFIG_OUT_OF_RANGE when outside. */
export function readConfigRange(c: ConsoleConfig, offset: number, size: number): Uint8Array {
  checkRange(offset, size);
  const bytes = encodeConfig({ ...c, emergWr: 0 });
  return bytes.slice(offset, offset + size);
}

export function checkRange(offset: number, size: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > VIRTIO_CONSOLE_CONFIG_SIZE) {
    throw new ConsoleError('CONFIG_OUT_OF_RANGE', `config access [${offset}, ${offset + size}) outside ${VIRTIO_CONSOLE_CONFIG_SIZE} bytes`);
  }
}

/**
 * A driver write of emerg_wr: the low byte is one character to emit at once (§5.3.4: "the driver
 * writes a single character"). Returns the byte, or null when the write does not touch emerg_wr.
 * QEMU forwards config writes as SET_CONFIG with the offset of the write.
 */
export function emergencyWriteByte(offset: number, data: Uint8Array): number | null {
  checkRange(offset, data.length);
  const idx = CONFIG_OFFSET_EMERG_WR - offset;
  if (idx < 0 || idx >= data.length) return null;
  return data[idx]!;
}
