/**
 * Our front-end against a vhost-user back-end no one here wrote: Debian trixie's virtiofsd (Rust,
 * rust-vmm vhost crates), provisioned by scripts/foreign-backends.sh into .cache/ (git-ignored).
 * The full handshake up to enabled queues, every reply decoded and checked, then a FUSE_INIT
 * request through its request queue and the reply read back from our guest memory: proof that
 * our codec, memory table (ADD_MEM_REG with fake user addresses) and ring layout agree with
 * foreign code.
 *
 * virtiofsd serves one connection and exits, so each test starts its own process.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VhostUserFrontend } from '../protocol/frontend.js';
import { VhostUserProtocolFeature, VHOST_USER_F_PROTOCOL_FEATURES } from '../protocol/codes.js';
import * as native from '../native.js';

const REPO = resolve(import.meta.dirname, '../../../..');
const VIRTIOFSD = process.env.VTCON_VIRTIOFSD ?? join(REPO, '.cache/foreign-backends/bin/virtiofsd');

const VIRTIO_F_VERSION_1 = 1n << 32n;
const VIRTIO_RING_F_INDIRECT_DESC = 1n << 28n;
const VIRTIO_RING_F_EVENT_IDX = 1n << 29n;
const PROTOCOL_FEATURES = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);
const bit = (name: keyof typeof VhostUserProtocolFeature) => 1n << BigInt(VhostUserProtocolFeature[name]);

/** virtio_fs_config (virtio spec 5.11.4): char tag[36]; le32 num_request_queues. */
const VIRTIO_FS_CONFIG_SIZE = 40;
const HIPRIO = 0;
const REQUEST = 1;

// FUSE (linux/fuse.h): FUSE_INIT is opcode 26; the kernel sends protocol 7.x.
const FUSE_INIT = 26;
const FUSE_IN_HEADER = 40;
const FUSE_OUT_HEADER = 16;
const FUSE_INIT_IN = 16; // major, minor, max_readahead, flags (the pre-7.36 form, no flags2)

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

beforeAll(() => {
  if (!existsSync(VIRTIOFSD)) {
    throw new Error(`virtiofsd not found at ${VIRTIOFSD}: run \`bash scripts/foreign-backends.sh\` from the repository root `
      + '(downloads Debian trixie\'s virtiofsd into .cache/foreign-backends/), or set VTCON_VIRTIOFSD to a virtiofsd binary');
  }
});

async function startVirtiofsd(): Promise<{ sock: string; proc: ChildProcess; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-virtiofsd-'));
  mkdirSync(join(dir, 'shared'));
  const sock = join(dir, 'fs.sock');
  let out = '';
  const proc = spawn(VIRTIOFSD, [
    '--socket-path', sock, '--shared-dir', join(dir, 'shared'), '--tag', 'vtcon-fs',
    // No namespaces/seccomp: the test may run unprivileged or in a container.
    '--sandbox', 'none', '--seccomp', 'none', '--cache', 'never', '--log-level', 'info',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  cleanups.push(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
  // It creates the socket once it is ready to accept (bounded wait: 10 s).
  for (let i = 0; i < 200 && !existsSync(sock); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(sock)) throw new Error(`virtiofsd did not create ${sock}; its output:\n${out}`);
  return { sock, proc, output: () => out };
}

/** Resolves with the first used entry of `q`, waiting on its call eventfd (bounded: 10 s). */
function waitUsed(fe: VhostUserFrontend, index: number): Promise<{ token: unknown; len: number }> {
  const q = fe.queues.get(index)!;
  return new Promise((resolveUsed, reject) => {
    const timer = setTimeout(() => { w.stop(); reject(new Error(`no used buffer on queue ${index} within 10 s`)); }, 10_000);
    const check = (): boolean => {
      const u = q.driver.getUsed();
      if (!u) return false;
      clearTimeout(timer); w.stop(); resolveUsed(u);
      return true;
    };
    const w = native.watchFd(q.callFd, 'readable', () => { native.eventfdRead(q.callFd); check(); });
    check();
  });
}

describe('VhostUserFrontend against virtiofsd (Debian trixie, rust-vmm)', () => {
  it('negotiates up to enabled queues, reads its config and answers FUSE_INIT over the request queue', async () => {
    const { sock, proc, output } = await startVirtiofsd();
    const fe = VhostUserFrontend.connect(sock);
    cleanups.push(() => fe.close());

    // The handshake, step by step (the order QEMU 11 uses), each reply decoded.
    const features = await fe.getFeatures();
    expect(features & VIRTIO_F_VERSION_1).toBe(VIRTIO_F_VERSION_1);
    expect(features & PROTOCOL_FEATURES).toBe(PROTOCOL_FEATURES);
    const offered = await fe.getProtocolFeatures();
    // What a virtio-fs back-end must offer for QEMU's vhost-user-fs: MQ, REPLY_ACK; --tag adds CONFIG.
    for (const f of ['MQ', 'REPLY_ACK', 'CONFIG', 'BACKEND_REQ', 'CONFIGURE_MEM_SLOTS'] as const) {
      expect(offered & bit(f), `protocol feature ${f} in 0x${offered.toString(16)}`).toBe(bit(f));
    }
    const wanted = bit('MQ') | bit('REPLY_ACK') | bit('CONFIG') | bit('BACKEND_REQ') | bit('CONFIGURE_MEM_SLOTS');
    await fe.setProtocolFeatures(offered & wanted);
    const queueNum = await fe.getQueueNum();
    expect(queueNum).toBe(2n); // hiprio + one request queue
    const maxSlots = await fe.getMaxMemSlots();
    expect(maxSlots).toBeGreaterThanOrEqual(8n);
    await fe.setBackendReqFd();
    await fe.setOwner();
    // VERSION_1 only: split rings without EVENT_IDX/INDIRECT, as our DriverQueue lays them out.
    const acked = VIRTIO_F_VERSION_1 | PROTOCOL_FEATURES;
    expect(features & (VIRTIO_RING_F_EVENT_IDX | VIRTIO_RING_F_INDIRECT_DESC)).not.toBe(0n); // it offers more than we take
    await fe.setFeatures(acked);

    // virtio_fs_config: the tag we passed, NUL-padded, and one request queue.
    const cfg = await fe.getConfig(0, VIRTIO_FS_CONFIG_SIZE);
    const tagEnd = cfg.indexOf(0);
    expect(Buffer.from(cfg.subarray(0, tagEnd)).toString()).toBe('vtcon-fs');
    expect(new DataView(cfg.buffer, cfg.byteOffset).getUint32(36, true)).toBe(1);

    // Guest RAM as two memfd regions (ADD_MEM_REG each, because CONFIGURE_MEM_SLOTS is on).
    fe.createMemory([1 << 20, 2 << 20]);
    await fe.sendMemTable();
    for (const q of [HIPRIO, REQUEST]) await fe.setupQueue(q, 64);
    for (const q of [HIPRIO, REQUEST]) await fe.enableQueue(q, true);

    // FUSE_INIT on the request queue: one readable descriptor (in header + init_in), one writable.
    const inLen = FUSE_IN_HEADER + FUSE_INIT_IN;
    const reqAddr = fe.alloc(inLen);
    const replyAddr = fe.alloc(4096);
    const reqBytes = fe.memory!.view(reqAddr, inLen);
    const req = new DataView(reqBytes.buffer, reqBytes.byteOffset, inLen);
    req.setUint32(0, inLen, true); // len
    req.setUint32(4, FUSE_INIT, true); // opcode
    req.setBigUint64(8, 0x1234n, true); // unique
    req.setBigUint64(16, 0n, true); // nodeid
    req.setUint32(40, 7, true); // major
    req.setUint32(44, 31, true); // minor
    req.setUint32(48, 0x20000, true); // max_readahead
    req.setUint32(52, 0, true); // flags
    const driver = fe.queues.get(REQUEST)!.driver;
    expect(driver.addChain([{ addr: reqAddr, len: inLen }], [{ addr: replyAddr, len: 4096 }], 'init')).not.toBeNull();
    const used = waitUsed(fe, REQUEST);
    if (driver.kickPrepare()) fe.kick(REQUEST);
    const u = await used.catch((e: Error) => { throw new Error(`${e.message}; virtiofsd output:\n${output()}`); });
    expect(u.token).toBe('init');

    const view = fe.memory!.view(replyAddr, 4096);
    const out = new DataView(view.buffer, view.byteOffset, 4096);
    const outLen = out.getUint32(0, true);
    expect(u.len).toBe(outLen); // the used length is exactly what it wrote
    expect(out.getInt32(4, true)).toBe(0); // error
    expect(out.getBigUint64(8, true)).toBe(0x1234n); // unique echoed
    expect(outLen).toBeGreaterThanOrEqual(FUSE_OUT_HEADER + 24);
    expect(out.getUint32(FUSE_OUT_HEADER, true)).toBe(7); // major
    // minor: the server answers its own (virtiofsd 1.13: 38); the client then uses min(ours, its).
    expect(out.getUint32(FUSE_OUT_HEADER + 4, true)).toBeGreaterThanOrEqual(31);
    expect(out.getUint32(FUSE_OUT_HEADER + 20, true)).toBeGreaterThan(0); // max_write

    // GET_VRING_BASE stops the queue and reports how far it got: one chain.
    expect(await fe.getVringBase(REQUEST)).toBe(1);
    fe.close();
    // It serves one front-end and then exits on its own (bounded wait).
    const code = await new Promise<number | null>((r) => {
      if (proc.exitCode !== null) { r(proc.exitCode); return; }
      const t = setTimeout(() => r(null), 10_000);
      proc.once('exit', (c) => { clearTimeout(t); r(c); });
    });
    expect(code, output()).toBe(0);
  });
});
