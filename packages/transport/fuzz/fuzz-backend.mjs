#!/usr/bin/env node
/**
 * Fuzz a live VhostUserBackend (EchoDevice) with random and mutated vhost-user message streams,
 * with and without fds, over real Unix sockets. Checks: no crash, the backend keeps accepting,
 * and /proc/self/fd and memfd mappings in /proc/self/maps are flat before/after.
 *
 * Hostile cases (issue 11): fds of every wrong kind where eventfds, memory or the backend
 * channel belong (pipes, sockets, regular files, /dev/null, blocking eventfds, unsealed memfds);
 * guest RAM the client shrinks after sending it (sealed: the shrink is refused; unsealed: the
 * back-end must have refused the table, or the next ring access is SIGBUS); and half-closed
 * connections (the client shuts down its read side, then asks for replies).
 *
 *   node fuzz/fuzz-backend.mjs                      # CI: 100k cases or 50 s, whichever first
 *   VTCON_FUZZ_CASES=1000000 VTCON_FUZZ_SECONDS=600 VTCON_FUZZ_SEED=7 node fuzz/fuzz-backend.mjs
 *
 * A "case" is one message (valid, mutated or garbage) sent on a connection; connections carry
 * up to 64 cases and are then dropped by the client (or closed earlier by the backend).
 * Needs the built package (npm run build).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend, encodeMessage, FrontendRequest } from '../dist/index.js';
import { EchoDevice } from '../dist/testing.js';
import * as native from '../dist/native.js';

const CASES = Number(process.env.VTCON_FUZZ_CASES ?? 100_000);
const SECONDS = Number(process.env.VTCON_FUZZ_SECONDS ?? 50);
let seed = Number(process.env.VTCON_FUZZ_SEED ?? Date.now() % 1e9) >>> 0;
const startSeed = seed;
function rnd() { seed = (seed + 0x6d2b79f5) >>> 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];
const u64 = () => pick([0n, 1n, 2n, 0x100n, 0x101n, 0xffffffffn, 1n << 53n, (1n << 64n) - 1n, BigInt(ri(1 << 30)), 0x7f0000000000n + BigInt(ri(1 << 20))]);
const u32 = () => pick([0, 1, 2, 3, 63, 64, 65, 256, 32768, 65536, 0xffffffff, ri(1 << 16)]);

const fdCount = () => readdirSync('/proc/self/fd').length;
const fdList = () => readdirSync('/proc/self/fd').map((f) => { try { return f + '=' + readlinkSync('/proc/self/fd/' + f); } catch { return f; } });
const memfdMaps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('/memfd:')).length;

const codes = Object.values(FrontendRequest);
function payloadFor(code) {
  const region = () => ({ guestPhysAddr: pick([0n, 0x1000n, 0x10000n, u64()]), memorySize: pick([0n, 0x1000n, 0x10000n, u64()]), userAddr: pick([0x10000000n, u64()]), mmapOffset: pick([0n, 0x1000n, u64()]) });
  switch (code) {
    case FrontendRequest.SET_MEM_TABLE: return { kind: 'memTable', regions: Array.from({ length: 1 + ri(3) }, region) };
    case FrontendRequest.ADD_MEM_REG: case FrontendRequest.REM_MEM_REG: return { kind: 'memRegion', region: region() };
    case FrontendRequest.SET_VRING_ADDR: return { kind: 'vringAddr', addr: { index: ri(3), flags: 0, descUserAddr: 0x10000000n + BigInt(ri(0x20000)), usedUserAddr: 0x10000000n + BigInt(ri(0x20000)), availUserAddr: 0x10000000n + BigInt(ri(0x20000)), logGuestAddr: 0n } };
    case FrontendRequest.SET_VRING_NUM: case FrontendRequest.SET_VRING_BASE: case FrontendRequest.GET_VRING_BASE: case FrontendRequest.SET_VRING_ENABLE:
      return { kind: 'vringState', state: { index: pick([0, 1, 2, u32()]), num: pick([0, 1, 64, 256, u32()]) } };
    case FrontendRequest.GET_CONFIG: case FrontendRequest.SET_CONFIG: { const size = ri(12); return { kind: 'config', config: { offset: ri(12), size, flags: 0, data: new Uint8Array(size) } }; }
    case FrontendRequest.GET_INFLIGHT_FD: case FrontendRequest.SET_INFLIGHT_FD:
      return { kind: 'inflight', inflight: { mmapSize: pick([0n, 4096n, 8320n, u64()]), mmapOffset: pick([0n, u64()]), numQueues: ri(4), queueSize: pick([0, 64, 256, 65535]) } };
    case FrontendRequest.SET_VRING_KICK: case FrontendRequest.SET_VRING_CALL: case FrontendRequest.SET_VRING_ERR:
      return { kind: 'u64', value: pick([0n, 1n, 2n, 0x100n, 0x101n, u64()]) };
    case FrontendRequest.SET_FEATURES: case FrontendRequest.SET_PROTOCOL_FEATURES: case FrontendRequest.SET_STATUS: return { kind: 'u64', value: u64() };
    default: return rnd() < 0.97 ? { kind: 'none' } : { kind: 'raw', bytes: new Uint8Array(ri(48)) };
  }
}

const SEALS = native.F_SEAL_SHRINK | native.F_SEAL_GROW;
/** Guest RAM as QEMU's memory-backend-memfd makes it: sealed against shrinking and growing. */
function ram(size, sealed = true) {
  const fd = native.memfdCreate('fuzz'); native.ftruncate(fd, size);
  if (sealed) native.addSeals(fd, SEALS);
  return fd;
}
/** socketPair peers kept open during a round, closed after it. */
const extraFds = [];
/** Set by main(): a FIFO and a regular file to open as wrong-kind fds. */
const paths = { fifo: '', file: '' };
/** Every kind of fd a hostile front-end could send where an eventfd, memory or a socket belongs. */
const wrongKinds = [
  () => openSync(paths.fifo, fsc.O_RDWR | fsc.O_NONBLOCK),
  () => openSync(paths.fifo, fsc.O_RDWR), // a blocking pipe: a call fd like this blocked the daemon
  () => { const [a, b] = native.socketPair(); native.close(b); return a; },
  () => { const [a, b] = native.socketPair(); extraFds.push(b); return a; }, // a live peer, closed after the round
  () => openSync(paths.file, 'r+'),
  () => openSync('/dev/null', 'r+'),
  () => { const e = native.eventfdCreate(); native.setNonBlocking(e, false); return e; },
  () => ram(pick([4096, 0x10000, 0x30000]), false),
];

/** fds to attach: eventfds, memfds of various sizes and seals, and fds of the wrong kind (closed by us right after sending). */
function makeFds(code) {
  const n = rnd() < 0.5 ? (code === FrontendRequest.SET_MEM_TABLE ? 1 + ri(3) : 1) : ri(3);
  return Array.from({ length: n }, () => {
    const r = rnd();
    if (r < 0.35) return native.eventfdCreate();
    if (r < 0.7) return ram(pick([0, 4096, 0x10000, 0x30000]), rnd() < 0.8);
    return wrongKinds[ri(wrongKinds.length)]();
  });
}

function oneCase(last) {
  const r = last ? rnd() : rnd() * 0.97;
  let bytes; let fds = [];
  const code = r < 0.9 ? pick(codes) : ri(64);
  if (r < 0.97) {
    try { bytes = encodeMessage({ request: code, flags: rnd() < 0.995 ? pick([1, 9, 5, 0xd]) : pick([0, 2, 0xff]), payload: payloadFor(code) }); }
    catch { bytes = new Uint8Array(12); }
    if (rnd() < 0.3) { bytes = Uint8Array.from(bytes); for (let k = 1 + ri(3); k > 0; k--) { const at = rnd() < 0.85 && bytes.length > 12 ? 12 + ri(bytes.length - 12) : ri(bytes.length); bytes[at] = ri(256); } } // mutate, mostly payload
    if (last && rnd() < 0.3) bytes = bytes.subarray(0, ri(bytes.length)); // truncate (desyncs the stream: last case only)
  } else {
    bytes = new Uint8Array(ri(64)).map(() => ri(256)); // garbage
  }
  if (rnd() < 0.4) fds = makeFds(code);
  return { bytes, fds };
}

/** A memory table whose memfd the client shrinks right after sending (sealed or not). */
function shrinkCase() {
  const sealed = rnd() < 0.5;
  const fd = ram(0x20000, sealed);
  const bytes = encodeMessage({ request: FrontendRequest.SET_MEM_TABLE, flags: 9, payload: { kind: 'memTable', regions: [{ guestPhysAddr: 0n, memorySize: 0x20000n, userAddr: 0x10000000n, mmapOffset: 0n }] } });
  return { bytes, fds: [fd], shrink: true };
}

/** Well-formed requests carrying fds of the wrong kind, or memory that shrinks: they reach the fd checks. */
function hostileCases() {
  const m = (request, payload) => encodeMessage({ request, flags: 9, payload });
  return Array.from({ length: 1 + ri(4) }, () => {
    const r = rnd();
    if (r < 0.25) return shrinkCase();
    const fd = wrongKinds[ri(wrongKinds.length)]();
    if (r < 0.75) return { bytes: m(pick([FrontendRequest.SET_VRING_KICK, FrontendRequest.SET_VRING_CALL, FrontendRequest.SET_VRING_ERR]), { kind: 'u64', value: BigInt(ri(2)) }), fds: [fd] };
    if (r < 0.9) return { bytes: m(FrontendRequest.SET_MEM_TABLE, { kind: 'memTable', regions: [{ guestPhysAddr: 0n, memorySize: 0x1000n, userAddr: 0x10000000n, mmapOffset: 0n }] }), fds: [fd] };
    return { bytes: m(FrontendRequest.SET_BACKEND_REQ_FD, { kind: 'none' }), fds: [fd] };
  });
}

/** A valid prefix (features, memory, vring num/addr) so later cases reach deeper state. */
function prefix() {
  const fd = ram(0x20000);
  const m = (request, payload, flags = 9) => encodeMessage({ request, flags, payload });
  const out = [
    { bytes: m(FrontendRequest.GET_FEATURES, { kind: 'none' }, 1), fds: [] },
    { bytes: m(FrontendRequest.SET_FEATURES, { kind: 'u64', value: (1n << 32n) | (1n << 30n) }), fds: [] },
    { bytes: m(FrontendRequest.SET_PROTOCOL_FEATURES, { kind: 'u64', value: 0x1b229n | 0x1000n }), fds: [] },
    { bytes: m(FrontendRequest.SET_MEM_TABLE, { kind: 'memTable', regions: [{ guestPhysAddr: 0n, memorySize: 0x20000n, userAddr: 0x10000000n, mmapOffset: 0n }] }), fds: [fd] },
    { bytes: m(FrontendRequest.SET_VRING_NUM, { kind: 'vringState', state: { index: 0, num: 64 } }), fds: [] },
    { bytes: m(FrontendRequest.SET_VRING_ADDR, { kind: 'vringAddr', addr: { index: 0, flags: 0, descUserAddr: 0x10000000n, usedUserAddr: 0x10001000n, availUserAddr: 0x10000800n, logGuestAddr: 0n } }), fds: [] },
  ];
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-fuzz-'));
  paths.fifo = join(dir, 'fifo'); execFileSync('mkfifo', [paths.fifo]);
  paths.file = join(dir, 'file'); closeSync(openSync(paths.file, 'w'));
  const errors = new Map();
  let unhandled = 0;
  process.on('unhandledRejection', (e) => { unhandled++; console.log('  unhandled rejection:', e); });
  const logger = { info() {}, debug() {}, warn() {}, error(o) { const k = o?.reason ?? 'other'; if (k === 'DEVICE_FAILED' && process.env.VTCON_FUZZ_VERBOSE) console.log(o); errors.set(k, (errors.get(k) ?? 0) + 1); } };
  const backend = new VhostUserBackend({ socketPath: join(dir, 'vm.sock'), createDevice: () => new EchoDevice(), logger });
  backend.listen();
  // Warm up once so lazily opened fds (addon, loggers) are in the baseline.
  await connectionRound([]);
  const fds0 = fdCount(); const maps0 = memfdMaps(); const list0 = fdList();
  const t0 = Date.now();
  let cases = 0; let conns = 0;
  while (cases < CASES && Date.now() - t0 < SECONDS * 1000) {
    const n = 1 + ri(64);
    const list = rnd() < 0.3 ? prefix() : [];
    if (rnd() < 0.3) list.push(...hostileCases());
    for (let i = 0; i < n; i++) list.push(rnd() < 0.03 ? shrinkCase() : oneCase(i === n - 1));
    cases += await connectionRound(list);
    conns++;
  }
  await backend.idle();
  await sleep(20);
  const fds1 = fdCount(); const maps1 = memfdMaps();
  if (fds1 !== fds0) console.log('  fd diff:', fdList().filter((x) => !list0.includes(x)), 'gone:', list0.filter((x) => !fdList().includes(x)));
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  const secs = (Date.now() - t0) / 1000;
  console.log(`fuzz-backend: seed ${startSeed}: ${cases} cases on ${conns} connections in ${secs.toFixed(1)} s; fds ${fds0} -> ${fds1}; memfd mappings ${maps0} -> ${maps1}`);
  console.log('  errors by reason:', JSON.stringify(Object.fromEntries([...errors].sort((a, b) => b[1] - a[1]))));
  const ok = fds1 === fds0 && maps1 === maps0 && unhandled === 0 && cases >= Math.min(CASES, 1);
  console.log(ok ? `${1} passed, 0 failed` : `0 passed, 1 failed`);
  if (!ok) process.exit(1);
  if (cases < CASES) console.log(`  note: time budget reached before ${CASES} cases`);

  async function connectionRound(list) {
    const fd = native.connectUnix(backend.socketPath);
    let eof = false;
    const buf = new Uint8Array(65536);
    const w = native.watchFd(fd, 'readable', () => {
      for (let i = 0; i < 64; i++) {
        let r; try { r = native.recvMsg(fd, buf, 8); } catch { eof = true; break; }
        if (r === null) break;
        for (const f of r.fds) native.close(f);
        if (r.bytes === 0) { eof = true; break; }
      }
    });
    await backend.waitForConnection();
    let sent = 0;
    // Half-close: from some point on the client no longer reads, and the back-end's replies fail.
    const halfCloseAt = list.length > 0 && rnd() < 0.1 ? ri(list.length) : -1;
    for (const c of list) {
      if (eof) { for (const f of c.fds) native.close(f); continue; }
      if (sent === halfCloseAt) { try { native.shutdown(fd, 'read'); } catch { /* already gone */ } }
      try { native.sendMsg(fd, c.bytes, c.fds); } catch { /* EPIPE/EAGAIN: backend closed or busy */ }
      // Shrinking after the back-end may have mapped it: refused for sealed RAM (EPERM); an
      // unsealed table must have been refused, or the back-end's next access is SIGBUS.
      if (c.shrink) { await new Promise((r) => setImmediate(r)); try { native.ftruncate(c.fds[0], 0); } catch { /* sealed */ } }
      for (const f of c.fds) native.close(f);
      sent++;
      if (sent % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    w.stop();
    native.close(fd);
    await backend.idle();
    for (const f of extraFds.splice(0)) native.close(f);
    return sent;
  }
}

main().catch((e) => { console.error(e); console.log('0 passed, 1 failed'); process.exit(1); });
