/**
 * ReplayLog against a model of the state a front-end sets up (fast-check): replaying what the log
 * keeps gives the same state as the whole history — features, memory table with its added and
 * removed regions, each vring's size/base/address/enable, kick and call fds (a GET_VRING_BASE
 * leaves the ring without a kick) — and every fd the log let go of is closed, every one it keeps
 * is open, none after clear().
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
  | { r: 'getconfig' };

const CODE: Record<Op['r'], number> = {
  feat: R.SET_FEATURES, proto: R.SET_PROTOCOL_FEATURES, status: R.SET_STATUS, owner: R.SET_OWNER, mem: R.SET_MEM_TABLE,
  add: R.ADD_MEM_REG, rem: R.REM_MEM_REG, num: R.SET_VRING_NUM, base: R.SET_VRING_BASE, addr: R.SET_VRING_ADDR,
  enable: R.SET_VRING_ENABLE, kick: R.SET_VRING_KICK, call: R.SET_VRING_CALL, getbase: R.GET_VRING_BASE, getconfig: R.GET_CONFIG,
};

const idx = fc.integer({ min: 0, max: 3 });
const val = fc.integer({ min: 0, max: 1000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ r: fc.constantFrom('feat' as const, 'proto' as const, 'status' as const), v: val }),
  fc.constant({ r: 'owner' as const }),
  fc.record({ r: fc.constantFrom('mem' as const, 'add' as const, 'rem' as const), id: val }),
  fc.record({ r: fc.constantFrom('num' as const, 'base' as const, 'addr' as const, 'enable' as const), i: idx, v: val }),
  fc.record({ r: fc.constantFrom('kick' as const, 'call' as const), i: idx }),
  fc.record({ r: fc.constant('getbase' as const), i: idx }),
  fc.constant({ r: 'getconfig' as const }),
);

interface Vring { num?: number; base?: number; addr?: number; enable?: number; kick: number | null; call: number | null }
interface Model { feat?: number; proto?: number; status?: number; owner: boolean; mem?: number; regs: string[]; vrings: Vring[] }

function apply(ops: readonly { op: Op; fd: number }[]): Model {
  const m: Model = { owner: false, regs: [], vrings: Array.from({ length: 4 }, () => ({ kick: null, call: null })) };
  for (const { op, fd } of ops) {
    switch (op.r) {
      case 'feat': case 'proto': case 'status': m[op.r] = op.v; break;
      case 'owner': m.owner = true; break;
      case 'mem': m.mem = op.id; m.regs = []; break;
      case 'add': case 'rem': m.regs.push(`${op.r}${op.id}`); break;
      case 'num': case 'base': case 'addr': case 'enable': m.vrings[op.i]![op.r] = op.v; break;
      case 'kick': case 'call': m.vrings[op.i]![op.r] = fd; break;
      case 'getbase': m.vrings[op.i]!.kick = null; break;
      case 'getconfig': break;
    }
  }
  return m;
}

function request(op: Op): { req: HeldRequest; fd: number } {
  const payload = new Uint8Array(8);
  const dv = new DataView(payload.buffer);
  if ('i' in op) dv.setUint32(0, op.i, true);
  const bytes = new Uint8Array(VHOST_USER_HEADER_SIZE + payload.length);
  new DataView(bytes.buffer).setUint32(0, CODE[op.r], true);
  bytes.set(payload, VHOST_USER_HEADER_SIZE);
  const fd = op.r === 'kick' || op.r === 'call' ? native.eventfdCreate() : -1;
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
      for (const op of ops) {
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

  it('refuses to keep more than its bound of unsquashable requests (HELD_STATE_TOO_BIG), closing the refused fds', () => {
    const log = new ReplayLog(8);
    for (let i = 0; i < 8; i++) log.accepted(request({ r: 'add', id: i }).req);
    expect(() => log.accepted(request({ r: 'add', id: 9 }).req)).toThrow(/HELD_STATE_TOO_BIG|more than 8/);
    expect(log.size).toBe(8);
  });
});
