/**
 * Front-end ↔ back-end over a real Unix socket, with the echo device: negotiation, two queues,
 * bulk transfer with checksums, and reconnects after either side goes away mid-transfer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend } from './backend.js';
import { VhostUserFrontend } from './frontend.js';
import { EchoDevice } from './echo-device.js';
import { EchoTransfer } from './echo-harness.js';
import { FrontendRequest, VHOST_USER_MAX_QUEUES } from './codes.js';
import type { EngineLink, HeldConnectionInfo } from '../holder/engine-link.js';
import * as native from '../native.js';
import { MAX_REGION_BYTES, VhostUserMemoryTable } from '../memory/memory-table.js';

const GiB = 2 ** 30;
const dirs: string[] = [];
const backends: VhostUserBackend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(o: { protocolFeatures?: ConstructorParameters<typeof VhostUserBackend>[0]['protocolFeatures'] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-vu-'));
  dirs.push(dir);
  const devices: EchoDevice[] = [];
  const backend = new VhostUserBackend({
    socketPath: join(dir, 'vm.sock'),
    createDevice: () => { const d = new EchoDevice(); devices.push(d); return d; },
    protocolFeatures: o.protocolFeatures, logger: process.env.DBG ? { info: (o: unknown, m?: string) => console.log("I", m, JSON.stringify(o)), warn: (o: unknown, m?: string) => console.log("W", m, JSON.stringify(o)), error: (o: unknown, m?: string) => console.log("E", m, JSON.stringify(o)), debug: () => {} } : undefined,
  });
  backend.listen();
  backends.push(backend);
  return { backend, devices, path: backend.socketPath };
}

async function startEcho(fe: VhostUserFrontend, reuse = false): Promise<void> {
  await fe.negotiate({ memory: [1 << 20, 4 << 20] });
  for (const i of [0, 1]) await fe.setupQueue(i, 256, reuse ? { reuse: true, base: fe.usedIdx(i) } : {});
  for (const i of [0, 1]) await fe.enableQueue(i, true);
}

const MB = 1 << 20;
const BULK = process.env.VTCON_BIG === '1' ? 100 * MB : 16 * MB;

describe('VhostUserBackend + VhostUserFrontend over a real socket', () => {
  it('negotiates every offered protocol feature and reports two queues', async () => {
    const { path } = setup();
    const fe = VhostUserFrontend.connect(path);
    const r = await fe.negotiate({ memory: [1 << 20, 2 << 20] });
    expect(r.queueNum).toBe(2);
    expect(r.protocolFeatures).toBe(0x1b229n | 0x1000n); // MQ REPLY_ACK BACKEND_REQ CONFIG INFLIGHT RESET CONFIGURE_MEM_SLOTS STATUS
    expect(r.features & (1n << 32n)).toBe(1n << 32n);
    expect(await fe.getStatus()).toBe(8n);
    fe.close();
  });

  it(`echoes ${BULK / MB} MB in 4 KiB chains through two queues with matching checksums`, async () => {
    const { path, devices } = setup();
    const fe = VhostUserFrontend.connect(path);
    await startEcho(fe);
    const t = new EchoTransfer({ totalBytes: BULK });
    const t0 = process.hrtime.bigint();
    t.attach(fe);
    const r = await t.done;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (process.env.VTCON_BIG === '1') console.log(`echo ${BULK / MB} MB: ${ms.toFixed(0)} ms, ${(BULK / MB / (ms / 1000)).toFixed(1)} MB/s`);
    expect(r.receivedBytes).toBe(BULK);
    expect(r.receivedSha256).toBe(r.sentSha256);
    expect(devices[0]!.echoed).toBe(BULK / 4096);
    fe.close();
  });

  it('works with SET_MEM_TABLE (no CONFIGURE_MEM_SLOTS) and without REPLY_ACK', async () => {
    const { path } = setup({ protocolFeatures: ['MQ', 'CONFIG'] });
    const fe = VhostUserFrontend.connect(path);
    await startEcho(fe);
    expect(fe.hasProtocol('CONFIGURE_MEM_SLOTS')).toBe(false);
    const t = new EchoTransfer({ totalBytes: 256 * 1024 });
    t.attach(fe);
    const r = await t.done;
    expect(r.receivedSha256).toBe(r.sentSha256);
    fe.close();
  });

  it('GET/SET_CONFIG round trip and BACKEND_CONFIG_CHANGE_MSG reach the front-end', async () => {
    const { path, devices } = setup();
    let changes = 0;
    let notify!: () => void;
    const changed = new Promise<void>((r) => { notify = r; });
    const fe = VhostUserFrontend.connect(path, { onConfigChange: () => { changes++; notify(); } });
    await fe.negotiate({ memory: [1 << 20] });
    await fe.setConfig(2, new Uint8Array([7, 8]));
    expect([...await fe.getConfig(0, 4)]).toEqual([0, 0, 7, 8]);
    devices[0]!.bumpConfig();
    await changed;
    expect(changes).toBe(1);
    expect([...await fe.getConfig(0, 1)]).toEqual([1]);
    fe.close();
  });

  it('SET_STATUS 0 after a non-zero status resets the device (rings stopped first); other statuses do not', async () => {
    const { path, devices } = setup();
    const fe = VhostUserFrontend.connect(path);
    await startEcho(fe);
    const dev = devices[0]!;
    const calls: string[] = [];
    const stopQueue = dev.stopQueue.bind(dev);
    dev.stopQueue = (i) => { calls.push(`stop ${i}`); return stopQueue(i); };
    dev.reset = () => { calls.push('reset'); };
    await fe.setStatus(0x0f);
    expect(calls).toEqual([]);
    await fe.setStatus(0);
    expect(calls).toEqual(['stop 0', 'stop 1', 'reset']);
    expect(await fe.getStatus()).toBe(0n);
    await fe.setStatus(0); // already reset: nothing to do
    expect(calls).toHaveLength(3);
    fe.close();
  });

  it('GET_VRING_BASE stops a queue and reports its last avail index', async () => {
    const { path } = setup();
    const fe = VhostUserFrontend.connect(path);
    await startEcho(fe);
    const t = new EchoTransfer({ totalBytes: 64 * 4096 });
    t.attach(fe);
    await t.done;
    await fe.enableQueue(1, false);
    expect(await fe.getVringBase(1)).toBe(64);
    fe.close();
  });

  it('GET_INFLIGHT_FD returns a zeroed memfd buffer; each queue stamps its region (version 1) when it starts', async () => {
    const { path } = setup();
    const fe = VhostUserFrontend.connect(path);
    await fe.negotiate({ memory: [1 << 20] });
    const m = await fe.request(FrontendRequest.GET_INFLIGHT_FD, { kind: 'inflight', inflight: { mmapSize: 0n, mmapOffset: 0n, numQueues: 2, queueSize: 256 } }, { expectReply: true });
    expect(m?.payload.kind).toBe('inflight');
    expect(m?.fds).toHaveLength(1);
    const { mmapShared, releaseMapping, close } = await import('../native.js');
    const size = m!.payload.kind === 'inflight' ? Number(m!.payload.inflight.mmapSize) : 0;
    expect(size).toBe(2 * Math.ceil((16 + 16 * 256) / 64) * 64); // two 64-byte-aligned queue regions
    const sab = mmapShared(m!.fds[0]!, size, 0);
    const dv = new DataView(sab);
    expect(dv.getUint16(8, true)).toBe(0); // version 0: no state yet
    // Hand it back, as QEMU does at every start, then start the queues.
    await fe.request(FrontendRequest.SET_INFLIGHT_FD, m!.payload, { fds: m!.fds, needReply: true });
    close(m!.fds[0]!);
    for (const i of [0, 1]) await fe.setupQueue(i, 256);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const per = size / 2;
    for (const q of [0, 1]) {
      expect(dv.getUint16(q * per + 8, true)).toBe(1); // version
      expect(dv.getUint16(q * per + 10, true)).toBe(256); // desc_num
    }
    releaseMapping(sab);
    fe.close();
  });

  for (const side of ['backend', 'frontend'] as const) {
    it(`resumes after the ${side} drops the connection mid-transfer: every byte arrives once, in order`, async () => {
      const { path, backend, devices } = setup();
      let fe = VhostUserFrontend.connect(path);
      await startEcho(fe);
      const total = 4 * MB;
      const t = new EchoTransfer({ totalBytes: total });
      let dropped = false;
      let resume!: () => void;
      const droppedP = new Promise<void>((r) => { resume = r; });
      t.onProgress = (n) => { if (!dropped && n >= total / 3) { dropped = true; t.detach(); resume(); } };
      t.attach(fe);
      await droppedP;
      if (side === 'backend') {
        await backend.disconnect();
        for (let i = 0; i < 100 && !fe.isClosed; i++) await new Promise((r) => setTimeout(r, 5));
        expect(fe.isClosed).toBe(true);
        fe.detach();
      } else {
        fe.detach();
        await backend.idle();
      }
      expect(devices[0]!.disconnects).toBe(1);
      fe = VhostUserFrontend.reattach(fe, path);
      await startEcho(fe, true);
      t.attach(fe);
      const r = await t.done;
      expect(r.receivedBytes).toBe(total);
      expect(r.receivedSha256).toBe(r.sentSha256);
      expect(backend.connections).toBe(2);
      fe.close();
    });
  }
});

describe('vhost-user names at most 256 queues (SET_VRING_KICK index bits 0-7)', () => {
  it('a device with more queues is refused at connect, saying why; the listener goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtcon-vu-'));
    dirs.push(dir);
    const errors: string[] = [];
    let queues = VHOST_USER_MAX_QUEUES + 2;
    const backend = new VhostUserBackend({
      socketPath: join(dir, 'vm.sock'), createDevice: () => new EchoDevice({ queueCount: queues }),
      logger: { info: () => {}, debug: () => {}, warn: () => {}, error: (_o: unknown, m?: string) => { errors.push(m ?? ''); } },
    });
    backend.listen();
    backends.push(backend);
    const fe = VhostUserFrontend.connect(backend.socketPath);
    await expect(fe.negotiate({ memory: [1 << 20, 2 << 20] })).rejects.toThrow();
    fe.close();
    expect(backend.connections).toBe(0);
    expect(errors.join('\n')).toMatch(/258 queues; vhost-user addresses at most 256/);
    // The same socket serves a device that fits.
    queues = VHOST_USER_MAX_QUEUES;
    const ok = VhostUserFrontend.connect(backend.socketPath);
    expect((await ok.negotiate({ memory: [1 << 20, 2 << 20] })).queueNum).toBe(VHOST_USER_MAX_QUEUES);
    ok.close();
  });

  it('the front-end refuses to set up queue 256 (its index would read as the no-fd flag)', async () => {
    const { path } = setup();
    const fe = VhostUserFrontend.connect(path);
    await fe.negotiate({ memory: [1 << 20, 2 << 20] });
    await expect(fe.setupQueue(VHOST_USER_MAX_QUEUES, 64)).rejects.toMatchObject({ reason: 'QUEUE_INDEX_OUT_OF_RANGE', scope: 'none' });
    fe.close();
  });
});

describe('held connections (served through a holder) come one at a time', () => {
  it('two that arrive while a session tears down: the second waits for the first one\'s session, never two sessions on one device', async () => {
    let onConnection: ((fd: number, info: HeldConnectionInfo) => void) | null = null;
    const link = { hold: (_vm: string, _s: string, on: typeof onConnection) => { onConnection = on; return Promise.resolve(); }, dropped: () => undefined, unhold: () => undefined } as unknown as EngineLink;
    let live = 0, maxLive = 0, served = 0;
    const backend = new VhostUserBackend({
      socketPath: '/nonexistent/held', held: { link, vm: 'vm' },
      createDevice: () => {
        const d = new EchoDevice();
        const disconnected = d.disconnected.bind(d);
        d.disconnected = () => { live--; disconnected(); };
        served++; maxLive = Math.max(maxLive, ++live);
        return d;
      },
    });
    backends.push(backend);
    await backend.start();
    const peers = [0, 1, 2].map(() => native.socketPair('stream'));
    onConnection!(peers[0]![1], { conn: 1, resumed: false, state: null });
    await until(() => served === 1);
    // Both arrive while session 1 is up; it then ends (its QEMU side closed).
    onConnection!(peers[1]![1], { conn: 2, resumed: false, state: null });
    onConnection!(peers[2]![1], { conn: 3, resumed: false, state: null });
    native.close(peers[0]![0]);
    await until(() => served >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect({ served, maxLive }).toEqual({ served: 2, maxLive: 1 });
    native.close(peers[1]![0]);
    await until(() => served === 3);
    native.close(peers[2]![0]);
    await until(() => live === 0);
    expect(maxLive).toBe(1);
  });
});

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a region larger than one typed array (Node.js 20: 4 GiB), as QEMU sends for a VM with > ~6 GiB of RAM', () => {
  it.each([
    ['SET_MEM_TABLE', ['MQ', 'CONFIG', 'REPLY_ACK'] as const],
    ['ADD_MEM_REG', undefined],
  ])('a 6 GiB region is taken (%s); a queue whose rings and buffers lie above 4 GiB serves chains across its 1 GiB windows byte-exact', async (how, protocolFeatures) => {
    const { path, devices } = setup({ protocolFeatures: protocolFeatures && [...protocolFeatures] });
    const fe = VhostUserFrontend.connect(path);
    // Sparse and sealed memfds like QEMU's RAM; the rings go to the top of the last region (> 6 GiB).
    await fe.negotiate({ memory: [1 << 20, 6 * GiB] });
    for (const i of [0, 1]) await fe.setupQueue(i, 256);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const [rx, tx] = [fe.queues.get(0)!, fe.queues.get(1)!];
    const big = fe.memory!.inits[1]!;
    expect({ slots: fe.hasProtocol('CONFIGURE_MEM_SLOTS'), rings: rx.config.descAddr > 4 * GiB }).toEqual({ slots: how === 'ADD_MEM_REG', rings: true });
    // A tx chain of two buffers crossing the window boundaries 5 GiB and 2 GiB into the region, and an
    // rx buffer crossing the one at 4 GiB (both above 4 GiB guest-physical but the 2 GiB one).
    const txSegs = [{ addr: big.guestPhysAddr + 5 * GiB - 3000, len: 8192 }, { addr: big.guestPhysAddr + 2 * GiB - 100, len: 300 }];
    const rxSeg = { addr: big.guestPhysAddr + 4 * GiB - 4000, len: 8492 };
    const payload = Buffer.alloc(8492);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + (i >> 9)) & 0xff;
    fe.memory!.view(txSegs[0]!.addr, 8192).set(payload.subarray(0, 8192));
    fe.memory!.view(txSegs[1]!.addr, 300).set(payload.subarray(8192));
    rx.driver.addChain([], [rxSeg], 'rx');
    rx.driver.kickPrepare();
    native.eventfdWrite(rx.kickFd, 1);
    tx.driver.addChain(txSegs, [], 'tx');
    tx.driver.kickPrepare();
    native.eventfdWrite(tx.kickFd, 1);
    await until(() => devices[0]!.echoed === 1 || devices[0]!.broken !== null);
    expect({ broken: devices[0]!.broken?.message ?? null, exact: Buffer.from(fe.memory!.view(rxSeg.addr, rxSeg.len)).equals(payload) }).toEqual({ broken: null, exact: true });
    fe.close();
  });
});

describe('a region over MAX_REGION_BYTES (1 TiB: it bounds the windows GuestMemory builds)', () => {
  it('is refused before anything changes (REGION_TOO_LARGE): the table stays as it was and the queues start', async () => {
    const { path } = setup();
    const fe = VhostUserFrontend.connect(path);
    await fe.negotiate({ memory: [1 << 20, 4 << 20] });
    // Sparse and sealed like QEMU's RAM: MAX_REGION_BYTES + one page.
    const size = MAX_REGION_BYTES + 4096;
    const big = native.memfdCreate('vtcon-too-large');
    native.ftruncate(big, size);
    native.addSeals(big, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
    const at = (len: number) => ({ kind: 'memRegion' as const, region: { guestPhysAddr: 1n << 40n, memorySize: BigInt(len), userAddr: 1n << 45n, mmapOffset: 0n } });
    const refused = await fe.request(FrontendRequest.ADD_MEM_REG, at(size), { fds: [big], needReply: true }).then(() => 'accepted', (e: Error) => e.message);
    native.close(big);
    // The same guest range, 1 MiB: nothing of the refused region may be left to overlap it.
    const small = native.memfdCreate('vtcon-small');
    native.ftruncate(small, 1 << 20);
    native.addSeals(small, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
    const taken = await fe.request(FrontendRequest.ADD_MEM_REG, at(1 << 20), { fds: [small], needReply: true }).then(() => 'accepted', (e: Error) => e.message);
    native.close(small);
    for (const i of [0, 1]) await fe.setupQueue(i, 256);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const t = new EchoTransfer({ totalBytes: 64 << 10 });
    t.attach(fe);
    const r = await t.done;
    expect({ refused: /REPLY_FAILED/.test(refused), taken, echoed: r.receivedSha256 === r.sentSha256 }).toEqual({ refused: true, taken: 'accepted', echoed: true });
    fe.close();
  });

  it('the memory table refuses it with its reason, before any mapping', () => {
    const table = new VhostUserMemoryTable(native, { maxRegionBytes: 1 << 20 });
    const fd = native.memfdCreate('vtcon-too-large');
    native.ftruncate(fd, 2 << 20);
    native.addSeals(fd, native.F_SEAL_SHRINK);
    expect(() => table.setTable([{ guestPhysAddr: 0n, memorySize: 2n << 20n, userAddr: 0n, mmapOffset: 0n }], [fd])).toThrow(expect.objectContaining({ reason: 'REGION_TOO_LARGE', scope: 'none' }));
    expect(table.regionCount).toBe(0);
    expect(() => native.fdInfo(fd)).toThrow(); // closed: the table owned it
  });
});

describe('ADD_MEM_REG while the queues run (memory hot-plug)', () => {
  it('a chain in the added region is served: the running queues restart on the new table', async () => {
    const { path, devices } = setup();
    const fe = VhostUserFrontend.connect(path);
    await fe.negotiate({ memory: [1 << 20, 4 << 20] });
    for (const i of [0, 1]) await fe.setupQueue(i, 64);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const rxBuf = fe.alloc(64);
    const [rx, tx] = [fe.queues.get(0)!, fe.queues.get(1)!];
    rx.driver.addChain([], [{ addr: rxBuf, len: 64 }], rxBuf);
    rx.driver.kickPrepare();
    native.eventfdWrite(rx.kickFd, 1);
    // The hot-plugged region, written through our own mapping of its memfd.
    const fd = native.memfdCreate('vtcon-hotplug');
    native.ftruncate(fd, 1 << 20);
    native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
    const sab = native.mmapShared(fd, 1 << 20, 0);
    new Uint8Array(sab).set(Buffer.from('hot-plugged'));
    await fe.request(FrontendRequest.ADD_MEM_REG, { kind: 'memRegion', region: { guestPhysAddr: 1n << 32n, memorySize: 1n << 20n, userAddr: 1n << 45n, mmapOffset: 0n } }, { fds: [fd], needReply: true });
    native.close(fd);
    tx.driver.addChain([{ addr: 2 ** 32, len: 11 }], [], null);
    tx.driver.kickPrepare();
    native.eventfdWrite(tx.kickFd, 1);
    await until(() => devices[0]!.echoed === 1 || devices[0]!.broken !== null);
    expect({ broken: devices[0]!.broken?.message ?? null, echoed: Buffer.from(fe.memory!.view(rxBuf, 11)).toString() }).toEqual({ broken: null, echoed: 'hot-plugged' });
    native.releaseMapping(sab);
    fe.close();
  });
});
