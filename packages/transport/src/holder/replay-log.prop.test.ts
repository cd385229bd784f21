/**
 * ReplayLog against a model of the state a front-end sets up (fast-check): replaying what the log
 * keeps gives the same state as the whole history — features, memory table with its added and
 * removed regions, each vring's size/base/address/enable, kick and call fds (a GET_VRING_BASE
 * leaves the ring without a kick) — and every fd the log let go of is closed, every one it keeps
 * is open, none after clear(). The history is one the back-end could have accepted: a region is
 * added only while absent and removed only while present.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReplayLog, type HeldRequest } from './replay-log.js';
import { FrontendRequest as R, VHOST_USER_HEADER_SIZE } from '../protocol/codes.js';
import * as native from '../native.js';

type Op =
  | { r: 'feat' | 'proto' | 'status'; v: number }
  | { r: 'owner' }
  | { r: 'mem'; id: number } | { r: 'add' | 'rem'; id: number }
  | { r: 'num' | 'base' | 'addr' | 'enable'; i: number; v: number }
  | { r: 'kick' | 'call'; i: number }
  | { r: 'getbase'; i: number }
  | { r: 'getconfig' }
  | { r: 'reset' | 'resetowner' }
  | { r: 'config'; off: number; size: number; v: number };

const CODE: Record<Op['r'], number> = {
  feat: R.SET_FEATURES, proto: R.SET_PROTOCOL_FEATURES, status: R.SET_STATUS, owner: R.SET_OWNER, mem: R.SET_MEM_TABLE,
  add: R.ADD_MEM_REG, rem: R.REM_MEM_REG, num: R.SET_VRING_NUM, base: R.SET_VRING_BASE, addr: R.SET_VRING_ADDR,
  enable: R.SET_VRING_ENABLE, kick: R.SET_VRING_KICK, call: R.SET_VRING_CALL, getbase: R.GET_VRING_BASE, getconfig: R.GET_CONFIG,
  reset: R.RESET_DEVICE, resetowner: R.RESET_OWNER, config: R.SET_CONFIG,
};

const idx = fc.integer({ min: 0, max: 3 });
const val = fc.integer({ min: 0, max: 1000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ r: fc.constantFrom('feat' as const, 'proto' as const, 'status' as const), v: val }),
  fc.constant({ r: 'owner' as const }),
  fc.record({ r: fc.constantFrom('mem' as const, 'add' as const, 'rem' as const), id: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ r: fc.constantFrom('num' as const, 'base' as const, 'addr' as const, 'enable' as const), i: idx, v: val }),
  fc.record({ r: fc.constantFrom('kick' as const, 'call' as const), i: idx }),
  fc.record({ r: fc.constant('getbase' as const), i: idx }),
  fc.constant({ r: 'getconfig' as const }),
  fc.constantFrom({ r: 'reset' as const }, { r: 'resetowner' as const }),
  fc.record({ r: fc.constant('config' as const), off: fc.integer({ min: 0, max: 4 }), size: fc.integer({ min: 1, max: 4 }), v: fc.integer({ min: 1, max: 255 }) }),
);

interface Vring { num?: number; base?: number; addr?: number; enable?: number; kick: number | null; call: number | null }
interface Model { feat?: number; proto?: number; status?: number; owner: boolean; mem?: number; regs: number[]; vrings: Vring[]; config: number[] }

function apply(ops: readonly { op: Op; fd: number }[]): Model {
  const fresh = () => Array.from({ length: 4 }, (): Vring => ({ kick: null, call: null }));
  const m: Model = { owner: false, regs: [], vrings: fresh(), config: Array<number>(8).fill(0) };
  for (const { op, fd } of ops) {
    switch (op.r) {
      case 'feat': case 'proto': case 'status': m[op.r] = op.v; break;
      case 'owner': m.owner = true; break;
      // The table holds region `id`; ADD/REM_MEM_REG add and remove regions by id.
      case 'mem': m.mem = op.id; m.regs = [op.id]; break;
      case 'add': m.regs = [...m.regs, op.id].sort(); break;
      case 'rem': m.regs = m.regs.filter((x) => x !== op.id); break;
      case 'num': case 'base': case 'addr': case 'enable': m.vrings[op.i]![op.r] = op.v; break;
      case 'kick': case 'call': m.vrings[op.i]![op.r] = fd; break;
      case 'getbase': m.vrings[op.i]!.kick = null; break;
      case 'getconfig': break;
      // RESET_DEVICE: rings, features and status forgotten (backend-status.ts); RESET_OWNER: rings stopped.
      case 'reset': m.vrings = fresh(); delete m.feat; delete m.status; break;
      case 'resetowner': for (const v of m.vrings) v.kick = null; break;
      case 'config': m.config.fill(op.v, op.off, op.off + op.size); break;
    }
  }
  return m;
}

function request(op: Op): { req: HeldRequest; fd: number } {
  const region = op.r === 'add' || op.r === 'rem';
  const payload = new Uint8Array(region ? 40 : op.r === 'config' ? 12 + op.size : 8);
  const dv = new DataView(payload.buffer);
  if (op.r === 'config') { dv.setUint32(0, op.off, true); dv.setUint32(4, op.size, true); payload.fill(op.v, 12); }
  if ('i' in op) dv.setUint32(0, op.i, true);
  if (region) {
    // Region `id`: guest address, size, user address; REM's mmap offset differs (it is ignored).
    dv.setBigUint64(8, BigInt(op.id) << 20n, true);
    dv.setBigUint64(16, 1n << 20n, true);
    dv.setBigUint64(24, 0x7f0000000000n + (BigInt(op.id) << 20n), true);
    dv.setBigUint64(32, op.r === 'rem' ? 0xdead000n : 0n, true);
  }
  const bytes = new Uint8Array(VHOST_USER_HEADER_SIZE + payload.length);
  new DataView(bytes.buffer).setUint32(0, CODE[op.r], true);
  bytes.set(payload, VHOST_USER_HEADER_SIZE);
  // A REM_MEM_REG may come with an fd too (spec); the back-end closes it unused.
  const fd = op.r === 'kick' || op.r === 'call' || region ? native.eventfdCreate() : -1;
  return { req: { request: CODE[op.r], bytes, fds: fd >= 0 ? [fd] : [] }, fd };
}

const isOpen = (fd: number) => { try { native.fdInfo(fd); return true; } catch { return false; } };

describe('ReplayLog', () => {
  it('replaying what it keeps rebuilds the state of the whole history; fds kept open or closed, never leaked', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const log = new ReplayLog();
      const history: { op: Op; fd: number }[] = [];
      const opOf = new Map<HeldRequest, { op: Op; fd: number }>();
      const fds: number[] = [];
      let present = new Set<number>();
      for (const op of ops) {
        // What the back-end refuses never reaches the log.
        if ((op.r === 'add' && present.has(op.id)) || (op.r === 'rem' && !present.has(op.id))) continue;
        if (op.r === 'mem') present = new Set([op.id]);
        else if (op.r === 'add') present.add(op.id);
        else if (op.r === 'rem') present.delete(op.id);
        const { req, fd } = request(op);
        if (fd >= 0) fds.push(fd);
        history.push({ op, fd });
        opOf.set(req, { op, fd });
        log.accepted(req);
      }
      const replayed = log.requests().map((r) => opOf.get(r)!);
      expect(apply(replayed)).toEqual(apply(history));
      const kept = new Set(log.requests().flatMap((r) => r.fds));
      for (const fd of fds) expect(isOpen(fd)).toBe(kept.has(fd));
      log.clear();
      for (const fd of fds) expect(isOpen(fd)).toBe(false);
    }), { numRuns: 300 });
  });

  it('a front-end cycling ADD_MEM_REG / REM_MEM_REG of one region leaves the log as it was: no fd kept per cycle', () => {
    const log = new ReplayLog();
    const table = request({ r: 'mem', id: 0 }).req;
    log.accepted(table);
    const fds: number[] = [];
    for (let i = 0; i < 100; i++) {
      for (const r of ['add', 'rem'] as const) { const x = request({ r, id: 1 }); fds.push(x.fd); log.accepted(x.req); }
    }
    expect({ size: log.size, open: fds.filter(isOpen).length }).toEqual({ size: 1, open: 0 });
    log.clear();
  });

  it('refuses to keep more than its bound of unsquashable requests (HELD_STATE_TOO_BIG), closing the refused fds', () => {
    const log = new ReplayLog(8);
    for (let i = 0; i < 8; i++) log.accepted(request({ r: 'add', id: i }).req);
    expect(() => log.accepted(request({ r: 'add', id: 9 }).req)).toThrow(/HELD_STATE_TOO_BIG|more than 8/);
    expect(log.size).toBe(8);
  });
});
