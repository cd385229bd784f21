#!/usr/bin/env node
/**
 * Fuzz DeviceQueue (the device half, which reads guest-written memory) with arbitrary guest
 * memory: random and structured descriptor tables (loops, out-of-range next, huge lengths,
 * addresses outside or across regions, indirect tables, nested indirect), avail rings, avail /
 * used indices, event-idx fields, misaligned ring addresses and restored states — and a guest
 * that rewrites the ring between two calls. Checks, per case:
 *   - every throw is a VirtqueueError (nothing else: no RangeError, no TypeError);
 *   - a broken queue stays broken (every later call throws);
 *   - popping without new buffers ends: at most `size` chains per avail.idx (no endless loop);
 *   - a direct chain has at most `size` segments, an indirect one at most its table's entries
 *     (what the walker promises; chains longer than the queue size are counted and printed).
 *
 *   node fuzz/fuzz-device-queue.mjs                  # CI: 20k cases or 15 s, whichever first
 *   VTCON_FUZZ_CASES=1000000 VTCON_FUZZ_SECONDS=600 VTCON_FUZZ_SEED=7 node fuzz/fuzz-device-queue.mjs
 *
 * Needs the built package (npm run build).
 */
import {
  DeviceQueue, GuestMemory, isVirtqueueError, splitQueueLayout,
  VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
} from '../dist/index.js';

const CASES = Number(process.env.VTCON_FUZZ_CASES ?? 20_000);
const SECONDS = Number(process.env.VTCON_FUZZ_SECONDS ?? 15);
let seed = Number(process.env.VTCON_FUZZ_SEED ?? Date.now() % 1e9) >>> 0;
const startSeed = seed;
function rnd() { seed = (seed + 0x6d2b79f5) >>> 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];
const u32 = () => pick([0, 1, 15, 16, 0x1000, 0x10000, 0x7fffffff, 0xffffffff, ri(0x20000), ri(2 ** 32)]);
const u16 = () => pick([0, 1, 0x7fff, 0x8000, 0xffff, ri(0x10000)]);

/** Guest memory: one or two regions, the first at 0x10000, the second after a hole. */
function makeMemory() {
  const sizes = [pick([0x4000, 0x10000, 0x40000])];
  if (rnd() < 0.4) sizes.push(pick([0x1000, 0x10000]));
  let gpa = 0x10000;
  const regions = sizes.map((size) => { const r = { guestPhysAddr: gpa, size, buffer: new SharedArrayBuffer(size) }; gpa += size + pick([0, 0x1000, 0x100000]); return r; });
  return { memory: new GuestMemory(regions), regions };
}

/** A guest address: mostly inside a region, sometimes straddling its end, outside, or huge. */
function gpaIn(regions, len) {
  const r = pick(regions);
  const k = rnd();
  if (k < 0.75) return r.guestPhysAddr + ri(Math.max(1, r.size - Math.min(len, r.size)));
  if (k < 0.85) return r.guestPhysAddr + r.size - ri(16); // straddles the end
  if (k < 0.95) return pick([0, 0x8000, r.guestPhysAddr + r.size + ri(0x1000)]);
  return pick([2 ** 53, 2 ** 64 - 16, 2 ** 63]);
}

function writeDesc(dv, off, addr, len, flags, next) {
  dv.setBigUint64(off, BigInt.asUintN(64, BigInt(Math.floor(addr))), true);
  dv.setUint32(off + 8, len >>> 0, true);
  dv.setUint16(off + 12, flags & 0xffff, true);
  dv.setUint16(off + 14, next & 0xffff, true);
}

/** Fill one descriptor table (direct or indirect) of `n` entries at byte `off` of `dv`. */
function fillTable(dv, off, n, regions, o) {
  const shape = rnd();
  for (let i = 0; i < n; i++) {
    const len = rnd() < 0.95 ? 1 + ri(256) : u32();
    let flags = rnd() < 0.6 ? VIRTQ_DESC_F_NEXT : 0;
    if (rnd() < (i >= n / 2 ? 0.8 : 0.05)) flags |= VIRTQ_DESC_F_WRITE; // mostly readable-then-writable, like a driver
    if (o.indirectOk && rnd() < 0.05) flags = VIRTQ_DESC_F_INDIRECT | (rnd() < 0.1 ? VIRTQ_DESC_F_NEXT : 0);
    if (rnd() < 0.02) flags = u16();
    // next: a linked list (i+1), a loop back, random, or out of range.
    const next = shape < 0.5 ? (i + 1) % (n + (rnd() < 0.05 ? 1 : 0)) : shape < 0.7 ? ri(n) : rnd() < 0.9 ? ri(n) : n + ri(4);
    if (flags & VIRTQ_DESC_F_INDIRECT) {
      const tlen = pick([0, 8, 16, 16 * (1 + ri(64)), u32()]);
      const t = gpaIn(regions, tlen);
      writeDesc(dv, off + 16 * i, t, tlen, flags, next);
      o.tables.push({ addr: t, len: tlen });
    } else {
      writeDesc(dv, off + 16 * i, gpaIn(regions, len), len, flags, next);
    }
  }
}

/** Write an indirect table's entries into guest memory when it lies inside a region. */
function fillIndirect(memory, regions, t) {
  if (t.len === 0 || t.len % 16 !== 0 || t.len > 64 * 16) return;
  let view;
  try { view = memory.view(t.addr, t.len); } catch { return; }
  fillTable(new DataView(view.buffer, view.byteOffset, view.byteLength), 0, t.len / 16, regions, { indirectOk: rnd() < 0.1, tables: [] });
}

function ringCase() {
  const { memory, regions } = makeMemory();
  const size = rnd() < 0.9 ? pick([1, 2, 4, 8, 16, 64, 256]) : pick([0, 3, 512, 1024, 65536]);
  let layout;
  try { layout = splitQueueLayout(size); } catch { layout = splitQueueLayout(256); }
  const r0 = regions[0];
  let base = r0.guestPhysAddr + (rnd() < 0.9 ? 0 : pick([2, 4, 8, 0x100, r0.size - 64]));
  if (base + layout.totalBytes > r0.guestPhysAddr + r0.size) base = r0.guestPhysAddr;
  const config = {
    descAddr: base, availAddr: base + layout.availOffset + (rnd() < 0.05 ? 1 : 0), usedAddr: base + layout.usedOffset + (rnd() < 0.05 ? 2 : 0),
    size, eventIdx: rnd() < 0.5, indirect: rnd() < 0.6,
  };
  const dv = new DataView(r0.buffer);
  const at = (gpa) => gpa - r0.guestPhysAddr;
  const o = { indirectOk: true, tables: [] };
  const n = Math.min(size, 4096);
  if (at(base) + 16 * n <= r0.size) {
    if (rnd() < 0.1) new Uint8Array(r0.buffer, at(base), 16 * n).forEach((_, i, a) => { a[i] = ri(256); });
    else fillTable(dv, at(base), n, regions, o);
  }
  for (const t of o.tables) fillIndirect(memory, regions, t);
  const lastAvailIdx = rnd() < 0.5 ? 0 : rnd() < 0.9 ? ri(0x10000) : pick([-1, 0x10000, 1.5, NaN]);
  const state = rnd() < 0.3 ? undefined : { lastAvailIdx, usedIdx: rnd() < 0.5 ? lastAvailIdx : u16() };
  const availIdx = ((Number.isInteger(lastAvailIdx) ? lastAvailIdx : 0) + (rnd() < 0.85 ? pick([1, ri(n + 1), n]) : pick([0, n + 1, u16()]))) & 0xffff;
  const writeRing = () => {
    if (at(config.availAddr) + 6 + 2 * n > r0.size || at(config.usedAddr) + 6 + 8 * n > r0.size) return;
    try {
      dv.setUint16(at(config.availAddr), rnd() < 0.9 ? 0 : u16(), true); // flags
      dv.setUint16(at(config.availAddr) + 2, availIdx, true);
      for (let i = 0; i < n; i++) dv.setUint16(at(config.availAddr) + 4 + 2 * i, rnd() < 0.9 ? ri(n) : u16(), true);
      dv.setUint16(at(config.availAddr) + 4 + 2 * n, u16(), true); // used_event
      dv.setUint16(at(config.usedAddr), rnd() < 0.9 ? 0 : u16(), true);
      dv.setUint16(at(config.usedAddr) + 4 + 8 * n, u16(), true); // avail_event
    } catch { /* misaligned/out of the region: fine, the queue must refuse it */ }
  };
  writeRing();
  return { memory, regions, config, state, size, n, writeRing, tables: o.tables };
}

const failures = [];
const stats = { cases: 0, constructed: 0, chains: 0, errors: new Map() };

function check(c, e, what) {
  if (isVirtqueueError(e)) { stats.errors.set(e.reason, (stats.errors.get(e.reason) ?? 0) + 1); return; }
  failures.push(`${what}: threw ${e?.name ?? typeof e}: ${e?.message ?? e} (size ${c.size}, config ${JSON.stringify(c.config)})`);
}

function segmentsOk(c, chain) {
  const segs = chain.readable.length + chain.writable.length;
  // A direct chain fits the queue; an indirect one fits its table and MAX_INDIRECT_CHAIN (1024).
  if (segs <= Math.max(c.size, 1024)) return true;
  failures.push(`chain of ${segs} segments in a queue of ${c.size}`);
  return false;
}

function oneCase() {
  const c = ringCase();
  let dq;
  try { dq = new DeviceQueue(c.memory, c.config, c.state); } catch (e) { check(c, e, 'constructor'); return; }
  stats.constructed++;
  let broken = false;
  let pops = 0;
  // At most `size` chains are available per avail.idx; one more pop must answer null or throw.
  for (let step = 0; step <= c.size + 1; step++) {
    const op = rnd();
    try {
      if (op < 0.7) {
        const chain = dq.popAvailable();
        if (broken) failures.push('a broken queue popped a chain');
        if (chain === null) break;
        pops++;
        stats.chains++;
        if (!segmentsOk(c, chain)) return;
        if (rnd() < 0.8) dq.pushUsed(chain.head, rnd() < 0.9 ? ri(chain.writableBytes + 1) : u32());
      } else if (op < 0.8) {
        const chain = dq.readChain(rnd() < 0.9 ? ri(c.size) : u16());
        segmentsOk(c, chain);
      } else if (op < 0.85) {
        dq.pushUsed(u16(), u32()); // contract breach by the caller: must be a VirtqueueError too
      } else if (op < 0.9) {
        dq.needsNotification(); dq.enableNotification(); if (rnd() < 0.5) dq.disableNotification();
      } else {
        c.writeRing(); // the guest rewrites the ring between two calls
      }
    } catch (e) {
      check(c, e, `step ${step}`);
      broken = dq.broken !== null;
      if (!isVirtqueueError(e) || broken) break;
    }
    if (pops > c.size) { failures.push(`${pops} pops from a queue of ${c.size} without new buffers`); return; }
  }
  if (dq.broken !== null) {
    try { dq.popAvailable(); failures.push('a broken queue answered popAvailable'); } catch (e) { check(c, e, 'after broken'); }
  }
}

const t0 = Date.now();
while (stats.cases < CASES && Date.now() - t0 < SECONDS * 1000 && failures.length === 0) {
  oneCase();
  stats.cases++;
}
const secs = (Date.now() - t0) / 1000;
console.log(`fuzz-device-queue: seed ${startSeed}: ${stats.cases} cases (${stats.constructed} queues, ${stats.chains} chains) in ${secs.toFixed(1)} s`);
console.log('  errors by reason:', JSON.stringify(Object.fromEntries([...stats.errors].sort((a, b) => b[1] - a[1]))));
for (const f of failures.slice(0, 10)) console.log('  FAIL', f);
console.log(failures.length === 0 ? '1 passed, 0 failed' : '0 passed, 1 failed');
if (failures.length > 0) process.exit(1);
if (stats.cases < CASES) console.log(`  note: time budget reached before ${CASES} cases`);
