/**
 * PORT_NAME payload. The spec (§5.3.6.2) says the name follows the header and the NUL is not
 * counted; QEMU sends one anyway. The device sends none (as the spec says); the driver model trims
 * one trailing NUL, as the seed's vtcon_ctrl_port_name_event does, and refuses non-ASCII names as
 * vtcon_port_dev_alias does.
 */
import { ConsoleError } from '../errors.js';
import { CONTROL_HEADER_SIZE, VTCON_CTRL_BUFSZ } from './constants.js';

/** Longest name that fits the seed's 128-byte control receive buffer after the header. */
export const MAX_PORT_NAME_BYTES = VTCON_CTRL_BUFSZ - CONTROL_HEADER_SIZE;

/** Printable ASCII without space: what devfs aliases and udev symlinks accept without surprises. */
const PORT_NAME_RE = /^[\x21-\x7e]+$/;

/** Validate a host-configured port name; throws ConsoleError NAME_NOT_ASCII / NAME_TOO_LONG. */
export function checkPortName(name: string): void {
  if (!PORT_NAME_RE.test(name)) {
    throw new ConsoleError('NAME_NOT_ASCII', `port name ${JSON.stringify(name)} must be non-empty printable ASCII without spaces`);
  }
  if (name.length > MAX_PORT_NAME_BYTES) {
    throw new ConsoleError('NAME_TOO_LONG', `port name is ${name.length} bytes, at most ${MAX_PORT_NAME_BYTES}`);
  }
}

/** Device side: the name's bytes, no trailing NUL. */
export function encodePortName(name: string): Uint8Array {
  checkPortName(name);
  return new TextEncoder().encode(name);
}

export type DecodedPortName =
  | { ok: true; name: string }
  | { ok: false; why: 'EMPTY' | 'NOT_ASCII' };

/**
 * Driver side, the seed's rules: empty → ignored; one trailing NUL trimmed (then empty →
 * ignored); any byte ≥ 0x80 → refused (isascii). Bytes after the first NUL are not special,
 * like the seed, which only trims the last byte.
 */
export function decodePortName(payload: Uint8Array): DecodedPortName {
  let len = payload.length;
  if (len === 0) return { ok: false, why: 'EMPTY' };
  if (payload[len - 1] === 0) {
    len--;
    if (len === 0) return { ok: false, why: 'EMPTY' };
  }
  let s = '';
  for (let i = 0; i < len; i++) {
    const c = payload[i]!;
    if (c >= 0x80) return { ok: false, why: 'NOT_ASCII' };
    s += String.fromCharCode(c);
  }
  return { ok: true, name: s };
}
