/**
 * What the holder keeps of one front-end connection so that a new engine can take it over: the
 * state-changing requests the engine accepted, squashed to the latest of each kind, with their
 * fds. Replayed in this order to a new engine, they rebuild the session QEMU set up (features,
 * memory table, vring sizes/addresses/fds/enable state, backend channel, config, status) without
 * QEMU resending anything.
 *
 * Rules (vhost-user.rst "Ring states"): one entry per (request, vring index) for the vring
 * requests and one per request for the connection-wide ones, replaced in place so the first
 * set-up order (memory before addresses before kick before enable) is kept; GET_VRING_BASE stops a
 * ring and closes its kick, so it removes the ring's SET_VRING_KICK (the ring stays stopped until
 * QEMU sends a new one); SET_MEM_TABLE replaces the table and every ADD/REM_MEM_REG before it; a
 * REM_MEM_REG and the kept ADD_MEM_REG of the same region cancel out (else a front-end cycling
 * ADD/REM has the holder keep one more fd per cycle, up to maxEntries: the holder's fds are every
 * VM's), and a REM_MEM_REG keeps no fd (the back-end closes it unused). Resets are not kept but
 * applied: RESET_DEVICE makes the back-end forget every ring, the features and the status
 * (backend-status.ts), so it drops their entries; RESET_OWNER stops every ring, so it drops each
 * ring's kick, as GET_VRING_BASE does. Kept as entries, a reset would be replayed after the
 * set-up that followed it (that set-up replaced its entries in place, before the reset) and undo
 * it under the next engine. SET_CONFIG is kept per written range (offset, size), the newest last:
 * writes of different ranges may overlap, so their order counts.
 * Pure reads (GET_CONFIG, GET_QUEUE_NUM, ...) are not kept. The holder only reads the request code,
 * for vring requests the index in the first payload bytes, for SET_CONFIG its range, and compares
 * the region bytes of ADD/REM_MEM_REG: nothing else is parsed here.
 */
import { FrontendRequest, VHOST_USER_HEADER_SIZE } from '../protocol/codes.js';
import { safeClose } from '../socket/connection.js';
import { VhostUserError } from '../errors.js';

/** One request as received: header and payload bytes, and the fds that came with it. */
export interface HeldRequest { request: number; bytes: Uint8Array; fds: number[] }

const R = FrontendRequest;
const PER_VRING = new Set<number>([
  R.SET_VRING_NUM, R.SET_VRING_ADDR, R.SET_VRING_BASE, R.SET_VRING_KICK, R.SET_VRING_CALL, R.SET_VRING_ERR, R.SET_VRING_ENABLE,
]);
const PER_CONNECTION = new Set<number>([
  R.GET_FEATURES, R.GET_PROTOCOL_FEATURES, R.SET_FEATURES, R.SET_PROTOCOL_FEATURES, R.SET_OWNER, R.SET_MEM_TABLE,
  R.SET_BACKEND_REQ_FD, R.SET_INFLIGHT_FD, R.SET_STATUS, R.GET_MAX_MEM_SLOTS,
]);
/** Kept in arrival order, not squashed (bounded by maxEntries). */
const APPENDED = new Set<number>([R.ADD_MEM_REG, R.REM_MEM_REG]);
/** What RESET_DEVICE makes the back-end forget. */
const RESET_BY_DEVICE_RESET = new Set<number>([...PER_VRING, R.SET_FEATURES, R.SET_STATUS]);

/** The vring index a vring request names (first u32 of the payload; the low byte of a vring-fd u64). */
export function vringIndexOf(m: HeldRequest): number {
  const p = m.bytes.subarray(VHOST_USER_HEADER_SIZE);
  if (p.length < 4) return -1;
  const v = new DataView(p.buffer, p.byteOffset, 4).getUint32(0, true);
  return m.request === R.SET_VRING_KICK || m.request === R.SET_VRING_CALL || m.request === R.SET_VRING_ERR ? v & 0xff : v;
}

/** SET_CONFIG's range: its offset and size, the first 8 payload bytes (as bytes: no arithmetic). */
function configRangeOf(m: HeldRequest): string {
  return Array.from(m.bytes.subarray(VHOST_USER_HEADER_SIZE, VHOST_USER_HEADER_SIZE + 8)).join(',');
}

/**
 * ADD/REM_MEM_REG name the same region: equal guest address, size and user address (spec
 * REM_MEM_REG; the mmap offset is ignored), bytes 8..32 of the payload (after 8 bytes of padding).
 */
const REGION_ID = { from: VHOST_USER_HEADER_SIZE + 8, to: VHOST_USER_HEADER_SIZE + 32 };
function sameRegion(a: HeldRequest, b: HeldRequest): boolean {
  if (a.bytes.length < REGION_ID.to || b.bytes.length < REGION_ID.to) return false;
  for (let i = REGION_ID.from; i < REGION_ID.to; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

interface Entry { key: string | null; m: HeldRequest }

export class ReplayLog {
  private entries: Entry[] = [];

  constructor(private readonly maxEntries = 4096) {}

  get size(): number { return this.entries.length; }

  /** The requests to replay, in order (the log keeps ownership of their fds). */
  requests(): readonly HeldRequest[] { return this.entries.map((e) => e.m); }

  /**
   * The engine accepted `m`: keep it (taking its fds) or drop it (closing them). Throws
   * HELD_STATE_TOO_BIG when a front-end piles up more unsquashable requests than maxEntries
   * (the caller drops that connection).
   */
  accepted(m: HeldRequest): void {
    const r = m.request;
    if (r === R.GET_VRING_BASE) {
      this.remove(`${R.SET_VRING_KICK}:${vringIndexOf(m)}`);
      return close(m);
    }
    if (r === R.RESET_DEVICE) { this.drop((e) => RESET_BY_DEVICE_RESET.has(e.m.request)); return close(m); }
    if (r === R.RESET_OWNER) { this.drop((e) => e.m.request === R.SET_VRING_KICK); return close(m); }
    if (r === R.SET_CONFIG) this.remove(`${r}:${configRangeOf(m)}`); // the newest of a range goes last
    if (r === R.REM_MEM_REG) {
      close(m);
      const added = this.entries.findIndex((e) => e.m.request === R.ADD_MEM_REG && sameRegion(e.m, m));
      if (added >= 0) { close(this.entries[added]!.m); this.entries.splice(added, 1); return; }
    }
    if (r === R.SET_MEM_TABLE) this.drop((e) => e.m.request === R.ADD_MEM_REG || e.m.request === R.REM_MEM_REG);
    let key: string | null;
    if (PER_VRING.has(r)) key = `${r}:${vringIndexOf(m)}`;
    else if (r === R.SET_CONFIG) key = `${r}:${configRangeOf(m)}`;
    else if (PER_CONNECTION.has(r)) key = `${r}`;
    else if (APPENDED.has(r)) key = null;
    else return close(m);
    if (key !== null) {
      const at = this.entries.findIndex((e) => e.key === key);
      if (at >= 0) { close(this.entries[at]!.m); this.entries[at] = { key, m }; return; }
    }
    if (this.entries.length >= this.maxEntries) {
      close(m);
      throw new VhostUserError('HELD_STATE_TOO_BIG', `front-end sent more than ${this.maxEntries} state requests to keep for a replay`);
    }
    this.entries.push({ key, m });
  }

  /** Forget everything (the front-end is gone), closing every kept fd. */
  clear(): void {
    for (const e of this.entries.splice(0)) close(e.m);
  }

  /** Forget the entries `which` selects, closing their fds. */
  private drop(which: (e: Entry) => boolean): void {
    this.entries = this.entries.filter((e) => !which(e) || (close(e.m), false));
  }

  private remove(key: string): void {
    const at = this.entries.findIndex((e) => e.key === key);
    if (at >= 0) { close(this.entries[at]!.m); this.entries.splice(at, 1); }
  }
}

function close(m: HeldRequest): void {
  for (const fd of m.fds) if (fd >= 0) safeClose(fd);
  m.fds = [];
}
