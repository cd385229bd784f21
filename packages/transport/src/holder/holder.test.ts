/**
 * The holder with in-process engines (EngineLink + VhostUserBackend + EchoDevice on the real
 * link, real socketpairs and a real front-end over the held Unix socket). An engine "dies" by
 * losing its link and connections at once, as a killed process does; the front-end never
 * reconnects, its requests in flight are answered once, and the echo stream stays exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Holder, type HolderStatus } from './holder.js';
import { HeldConnection } from './held-connection.js';
import { encodeMessage } from '../protocol/message.js';
import { FrontendRequest } from '../protocol/codes.js';
import type { VhostUserError } from '../errors.js';
import { EngineLink } from './engine-link.js';
import { VhostUserBackend } from '../protocol/backend.js';
import { VhostUserFrontend } from '../protocol/frontend.js';
import { EchoDevice } from '../protocol/echo-device.js';
import { EchoTransfer } from '../protocol/echo-harness.js';
import { silentLogger } from '../protocol/device.js';
import { floodUnread } from '../protocol/test-raw-client.js';
import * as native from '../native.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

interface InProcessEngine { link: EngineLink; backend: VhostUserBackend | null; adopted: unknown[]; die(): void }

function harness(o: { standby?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-holder-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'vm.sock');
  const engines: InProcessEngine[] = [];
  const makeEngine = (fd: number): InProcessEngine => {
    const e: InProcessEngine = {
      link: null as unknown as EngineLink, backend: null, adopted: [],
      die: () => { e.link.close(); void e.backend?.disconnect(); },
    };
    e.link = new EngineLink(fd, 1, {
      onActivate: () => {
        const device = new EchoDevice();
        const adopt = device as EchoDevice & { adopt(s: unknown): void };
        adopt.adopt = (s) => { e.adopted.push(s); };
        e.backend = new VhostUserBackend({ socketPath: socket, createDevice: () => device, held: { link: e.link, vm: 'vm' } });
        void e.backend.start().then(() => e.link.ready());
      },
      onRetire: () => e.die(),
      onCheck: () => ({ ok: true }),
      onClose: () => undefined,
    });
    return e;
  };
  const holder = new Holder({
    log: silentLogger, standby: o.standby ?? false, statusPath: join(dir, 'status.json'),
    startEngine: (fd) => { const e = makeEngine(fd); engines.push(e); return { pid: 100000 + engines.length, kill: () => e.die(), keepsLinkFd: true }; },
  });
  holder.start();
  cleanups.push(() => holder.stop());
  const status = () => JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as HolderStatus;
  return { holder, engines, socket, status };
}

const until = async (what: string, f: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!f()) { if (Date.now() > end) throw new Error(`timed out: ${what}`); await new Promise((r) => setTimeout(r, 10)); }
};

describe('Holder', () => {
  it('keeps the front-end across two engine deaths: echo stream exact, a request in flight answered once', async () => {
    const { engines, socket, status } = harness();
    await until('the first engine to hold the socket', () => engines[0]?.backend !== null && engines.length === 1 && status().engineState === 'up');
    await new Promise((r) => setTimeout(r, 50));
    const fe = VhostUserFrontend.connect(socket);
    cleanups.push(() => fe.close());
    await fe.negotiate({ memory: [1 << 20, 4 << 20] });
    for (const i of [0, 1]) await fe.setupQueue(i, 256);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const t = new EchoTransfer({ totalBytes: 2 << 20 });
    const inFlight: Promise<bigint>[] = [];
    let deaths = 0;
    t.onProgress = (n) => {
      if ((deaths === 0 && n >= 512 << 10) || (deaths === 1 && n >= 1536 << 10 && engines.length === 2 && engines[1]!.backend?.connected)) {
        inFlight.push(fe.getFeatures()); // sent to the dying engine, answered by the next
        engines[deaths]!.die();
        deaths++;
      }
    };
    t.attach(fe);
    const r = await t.done;
    expect(deaths).toBe(2);
    expect(r.receivedBytes).toBe(2 << 20);
    expect(r.receivedSha256).toBe(r.sentSha256);
    const features = await Promise.all(inFlight);
    expect(features.every((f) => (f & (1n << 32n)) !== 0n)).toBe(true);
    expect(engines).toHaveLength(3);
    expect(status()).toMatchObject({ engineState: 'up', restarts: 2, vms: [{ vm: 'vm', connected: true }] });
  });

  it('a front-end that reset the device (RESET_DEVICE) and set it up again: the next engine gets the state after the reset, and the echo stream goes on', async () => {
    const { engines, socket, status } = harness({ standby: true });
    await until('the engine and its standby', () => status().engineState === 'up' && status().standbyReady && engines[0]?.backend !== null);
    const fe = VhostUserFrontend.connect(socket);
    cleanups.push(() => fe.close());
    await fe.negotiate({ memory: [1 << 20, 4 << 20] });
    for (const i of [0, 1]) await fe.setupQueue(i, 256);
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    // A guest reboot: the device is reset, then set up again from scratch (QEMU's order).
    await fe.request(FrontendRequest.RESET_DEVICE, { kind: 'none' }, { needReply: true });
    await fe.setFeatures(fe.ackedFeatures);
    for (const i of [0, 1]) await fe.setupQueue(i, 256, { reuse: true });
    for (const i of [0, 1]) await fe.enableQueue(i, true);
    const t = new EchoTransfer({ totalBytes: 1 << 20 });
    let died = false;
    t.onProgress = (n) => { if (!died && n >= 256 << 10) { died = true; engines[0]!.die(); } };
    t.attach(fe);
    const r = await Promise.race([t.done, new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
    expect({ died, received: r?.receivedBytes ?? 'stalled after the take-over', exact: r?.receivedSha256 === r?.sentSha256 }).toEqual({ died: true, received: 1 << 20, exact: true });
  });

  it('an engine that ends a session on purpose (a request it refuses) closes the front-end; QEMU gone ends the engine session', async () => {
    const { engines, socket, status } = harness();
    await until('the engine', () => status().engineState === 'up' && engines[0]?.backend !== null);
    await new Promise((r) => setTimeout(r, 50));
    let onClosed!: () => void;
    const closed = new Promise<void>((r) => { onClosed = r; });
    const fe = VhostUserFrontend.connect(socket, { onClose: () => onClosed() });
    await fe.negotiate({ memory: [1 << 20] });
    // SET_VRING_NUM for a queue that does not exist, without NEED_REPLY: the back-end ends the connection.
    await fe.request(8 /* SET_VRING_NUM */, { kind: 'vringState', state: { index: 99, num: 256 } }, { needReply: false, expectReply: false });
    await closed;
    await until('the holder to let the connection go', () => status().vms[0]?.connected === false);
    // The socket takes a new front-end, served by the same engine.
    const fe2 = VhostUserFrontend.connect(socket);
    cleanups.push(() => fe2.close());
    await fe2.negotiate({ memory: [1 << 20] });
    expect(engines).toHaveLength(1);
    fe2.close();
    await until('the engine session to end', () => engines[0]!.backend!.connected === false);
  });

  it('a front-end that floods requests and never reads a reply is ended at a bound (requests waiting for the engine, or replies queued); the holder and its engine serve the next one', async () => {
    const { engines, socket, status } = harness();
    await until('the engine', () => status().engineState === 'up' && engines[0]?.backend !== null);
    await new Promise((r) => setTimeout(r, 50));
    const fd = native.connectUnix(socket);
    cleanups.push(() => { try { native.close(fd); } catch { /* closed below */ } });
    await until('the holder to take the connection', () => status().vms[0]?.connected === true);
    // GET_FEATURES asks for a 20-byte reply; this front-end never reads one.
    const { sent, gone } = await floodUnread(fd, () => status().vms[0]?.connected === false);
    expect(gone, `still held after ${sent} requests`).toBe(true);
    expect(sent).toBeLessThan(100_000);
    await until('the holder to let the connection go', () => status().vms[0]?.connected === false);
    const fe = VhostUserFrontend.connect(socket);
    cleanups.push(() => fe.close());
    await fe.negotiate({ memory: [1 << 20] });
    expect(engines).toHaveLength(1);
    expect(status().engineState).toBe('up');
  });
});

describe('HeldConnection', () => {
  it('requests parked for the engine are bounded by the fds they carry: a front-end sending 16 fds a request while no engine answers is ended, its fds closed', async () => {
    const [qemu, held] = native.socketPair('stream');
    cleanups.push(() => { try { native.close(qemu); } catch { /* closed */ } });
    let ended: VhostUserError | null | undefined;
    const c = new HeldConnection(1, 'vm', held, silentLogger, (_c, err) => { ended = err; });
    cleanups.push(() => c.end());
    const openFds = () => readdirSync('/proc/self/fd').length;
    const before = openFds() - 1; // the holder's end of the socket closes with the connection
    const sixteen = Array.from({ length: 16 }, () => native.eventfdCreate());
    cleanups.push(() => { for (const fd of sixteen) native.close(fd); });
    // No engine attached (it died, or is down after a crash loop): every request waits, with its fds.
    const bytes = encodeMessage({ request: FrontendRequest.SET_OWNER, flags: 0x1, payload: { kind: 'none' } });
    for (let i = 0; i < 100 && ended === undefined; i++) {
      native.sendMsg(qemu, bytes, sixteen);
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 5));
    }
    await until('the holder to end the connection', () => ended !== undefined, 3000).catch(() => undefined);
    expect({ ended: ended?.reason, heldFds: openFds() - before - sixteen.length }).toEqual({ ended: 'SOCKET_ERROR', heldFds: 0 });
  });
});
