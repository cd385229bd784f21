// A hostile front-end (QEMU side) driving the vhost-user protocol message by message: requests out
// of order, out of range or with odd fds, memory tables swapped under running queues, resets, and
// what the holder keeps of a connection for the next engine. Each test attacks the TARGET VM while
// the victim streams; the verdict checks the daemon, the victim, fds and RSS.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeMessage, FrontendRequest as R, VhostUserFrontend, type Payload } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_RECEIVEQ, PORT1_TRANSMITQ, PORT_READY, within,
} from './hostile-frontend.js';
import { BYSTANDER, TARGET, rigPerTest, sleep, verdict, waitUntil, type Rig } from './rig.js';
import { readHolderStatus } from '../cli/holder-status.js';

const rigs = rigPerTest();
const MiB = 1 << 20;
const ALL = [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ, PORT1_TRANSMITQ];

/** One request with NEED_REPLY, bounded: 'ok', or why not (refused, connection closed). */
function ask(fe: VhostUserFrontend, request: number, payload: Payload, fds: number[] = []): Promise<string> {
  return within(3000, `request ${request}`, fe.request(request, payload, { fds, needReply: true })).then(() => 'ok', (e: Error) => e.message);
}
const vring = (index: number, num: number): Payload => ({ kind: 'vringState', state: { index, num } });
const region = (gpa: bigint, size: bigint, ua: bigint, off = 0n) => ({ guestPhysAddr: gpa, memorySize: size, userAddr: ua, mmapOffset: off });

/** Guest RAM as QEMU's memfd backend makes it: sealed against shrinking and growing. */
function sealedMemfd(size: number): number {
  const fd = native.memfdCreate('vtcon-hostile-fe');
  native.ftruncate(fd, size);
  native.addSeals(fd, native.F_SEAL_SHRINK | native.F_SEAL_GROW);
  return fd;
}

/** The TARGET through PORT_READY of port 1, on a fresh connection. */
async function portReady(rig: Rig, o: Parameters<typeof HostileFrontend.connect>[1] = {}): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET), o);
  rigs.defer(() => h.close());
  for (const q of ALL) await h.queue(q);
  h.postControlBuffers(16);
  h.sendControl(0xffffffff, DEVICE_READY, 1);
  h.sendControl(1, PORT_READY, 1);
  return h;
}

/** `text` through port 1's transmitq: true once it is in the port's log. */
async function transmitted(rig: Rig, h: HostileFrontend, text: string): Promise<boolean> {
  const at = h.alloc(4096);
  h.write(at, Buffer.from(text));
  h.post(PORT1_TRANSMITQ, [{ addr: at, len: text.length }]);
  h.queues.get(PORT1_TRANSMITQ)!.kick();
  return waitUntil(() => { try { return readFileSync(rig.logOf(TARGET, 'org.test.a'), 'utf8').includes(text); } catch { return false; } });
}

const holderFds = (rig: Rig) => readdirSync(`/proc/${rig.child.pid}/fd`).length;

describe('protocol abuse that is refused or absorbed by the target VM alone', () => {
  it('out-of-order, out-of-range and odd requests, memory swapped under running queues, resets and churn: the target takes a good front-end afterwards', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const probes: { name: string; run(): Promise<void> }[] = [
      { name: 'vring requests before any memory table or features; GET_VRING_BASE of a queue never started, twice, and of queue 255', run: async () => {
        const fe = VhostUserFrontend.connect(rig.socketOf(TARGET));
        const kick = native.eventfdCreate();
        try {
          await ask(fe, R.SET_VRING_NUM, vring(0, 64));
          await ask(fe, R.SET_VRING_KICK, { kind: 'u64', value: 0n }, [kick]);
          await ask(fe, R.SET_VRING_ENABLE, vring(0, 1));
          const addr = await ask(fe, R.SET_VRING_ADDR, { kind: 'vringAddr', addr: { index: 0, flags: 0, descUserAddr: 0n, usedUserAddr: 0n, availUserAddr: 0n, logGuestAddr: 0n } });
          if (addr === 'ok') problems.push('SET_VRING_ADDR before any memory table was accepted');
          for (const q of [0, 0, 255]) await within(3000, 'GET_VRING_BASE', fe.getVringBase(q)).catch(() => undefined);
        } finally { native.close(kick); fe.close(); }
      } },
      { name: 'every vring request for queues 18, 100 and 255 (the target has 18)', run: async () => {
        const h = await HostileFrontend.connect(rig.socketOf(TARGET));
        const e = native.eventfdCreate();
        try {
          for (const i of [18, 100, 255]) {
            for (const [req, p, fds] of [
              [R.SET_VRING_NUM, vring(i, 64), []], [R.SET_VRING_BASE, vring(i, 0), []], [R.SET_VRING_ENABLE, vring(i, 1), []],
              [R.SET_VRING_KICK, { kind: 'u64', value: BigInt(i) }, [e]], [R.SET_VRING_CALL, { kind: 'u64', value: BigInt(i) }, [e]], [R.SET_VRING_ERR, { kind: 'u64', value: BigInt(i) }, [e]],
            ] as [number, Payload, number[]][]) {
              if ((await ask(h.fe, req, p, fds)) === 'ok') problems.push(`request ${req} for queue ${i} was accepted`);
            }
          }
        } finally { native.close(e); h.close(); }
      } },
      { name: 'SET_VRING_BASE 0xffff on a port transmitq, then a chain', run: async () => {
        const h = await HostileFrontend.connect(rig.socketOf(TARGET));
        for (const q of [CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, PORT1_RECEIVEQ]) await h.queue(q);
        await ask(h.fe, R.SET_VRING_BASE, vring(PORT1_TRANSMITQ, 0xffff));
        await h.queue(PORT1_TRANSMITQ).catch(() => undefined);
        h.post(PORT1_TRANSMITQ, [{ addr: h.alloc(64), len: 10 }]);
        h.queues.get(PORT1_TRANSMITQ)?.kick();
        await sleep(200);
        h.close();
      } },
      { name: 'regions that wrap 2^64 (guest, user, mmap offset) or lie past 2^53', run: async () => {
        for (const r of [region(0xfffffffffffff000n, 0x2000n, 0x1000n), region(0n, 0x1000n, 0xfffffffffffff000n), region(0n, 0x1000n, 0x1000n, 0xfffffffffffff000n), region(1n << 52n, 1n << 52n, 0x1000n)]) {
          const fe = VhostUserFrontend.connect(rig.socketOf(TARGET));
          const fd = sealedMemfd(0x10000);
          try { if ((await ask(fe, R.SET_MEM_TABLE, { kind: 'memTable', regions: [r] }, [fd])) === 'ok') problems.push(`region ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))} was accepted`); }
          finally { native.close(fd); fe.close(); }
        }
      } },
      { name: 'a smaller SET_MEM_TABLE, then a REM_MEM_REG of the ring memory, while the queues run', run: async () => {
        const h = await portReady(rig, { memory: [16 * MiB] });
        const fd = sealedMemfd(64 * 1024);
        await ask(h.fe, R.SET_MEM_TABLE, { kind: 'memTable', regions: [region(0n, 0x10000n, 0x7f0000000000n)] }, [fd]);
        native.close(fd);
        await ask(h.fe, R.REM_MEM_REG, { kind: 'memRegion', region: region(0n, 0x10000n, 0x7f0000000000n) });
        h.sendControl(1, PORT_READY, 1);
        await sleep(200);
        h.close();
      } },
      { name: 'SET_LOG_BASE, SET_LOG_FD, SET_DEVICE_STATE_FD with an fd; SET/GET_CONFIG past the config space or wrapping', run: async () => {
        const h = await HostileFrontend.connect(rig.socketOf(TARGET));
        const fd = sealedMemfd(4096);
        try {
          for (const [req, p] of [[R.SET_LOG_BASE, { kind: 'log', log: { mmapSize: 4096n, mmapOffset: 0n } }], [R.SET_LOG_FD, { kind: 'none' }], [R.SET_DEVICE_STATE_FD, { kind: 'deviceState', state: { direction: 0, phase: 0 } }]] as [number, Payload][]) {
            if ((await ask(h.fe, req, p, [fd])) === 'ok') problems.push(`request ${req} with an fd was accepted`);
          }
          for (const [offset, size] of [[0xffffffff, 8], [0xfffffff8, 8], [0, 200]] as [number, number][]) {
            if ((await ask(h.fe, R.SET_CONFIG, { kind: 'config', config: { offset, size, flags: 0xffffffff, data: new Uint8Array(size) } })) === 'ok') problems.push(`SET_CONFIG [${offset}, +${size}) was accepted`);
            const got = await within(3000, 'GET_CONFIG', h.fe.request(R.GET_CONFIG, { kind: 'config', config: { offset, size, flags: 0, data: new Uint8Array(size) } }, { expectReply: true }))
              .then((m) => (m?.payload.kind === 'config' ? m.payload.config.size : -1), () => -1);
            if (got > 0) problems.push(`GET_CONFIG [${offset}, +${size}) answered ${got} bytes`);
          }
        } finally { native.close(fd); h.close(); }
      } },
      { name: 'an inflight buffer full of garbage (every head in flight, counters near 2^64), then the queues start', run: async () => {
        const h = await HostileFrontend.connect(rig.socketOf(TARGET), { protocolFeatures: ['MQ', 'REPLY_ACK', 'CONFIG', 'STATUS', 'INFLIGHT_SHMFD'] });
        const per = Math.ceil((16 + 16 * 64) / 64) * 64;
        const fd = sealedMemfd(18 * per);
        const sab = native.mmapShared(fd, 18 * per, 0);
        for (let q = 0; q < 18; q++) {
          const dv = new DataView(sab, q * per, per);
          dv.setUint16(8, 1, true); dv.setUint16(10, 64, true); dv.setUint16(12, 0xffff, true); dv.setUint16(14, 3, true);
          for (let d = 0; d < 64; d++) { dv.setUint8(16 + d * 16, 1); dv.setUint16(22 + d * 16, (d * 7) % 70, true); dv.setUint32(24 + d * 16, 0xffffffff - d, true); dv.setUint32(28 + d * 16, 0xffffffff, true); }
        }
        native.releaseMapping(sab);
        await ask(h.fe, R.SET_INFLIGHT_FD, { kind: 'inflight', inflight: { mmapSize: BigInt(18 * per), mmapOffset: 0n, numQueues: 18, queueSize: 64 } }, [fd]);
        native.close(fd);
        for (const q of ALL) await h.queue(q).catch(() => undefined);
        h.postControlBuffers(8);
        h.sendControl(0xffffffff, DEVICE_READY, 1);
        await sleep(200);
        h.close();
      } },
      { name: 'SET_STATUS 0/0xf, SET_FEATURES 0, RESET_DEVICE, RESET_OWNER and SET_VRING_CALL / SET_VRING_ENABLE churn while the queues run', run: async () => {
        const h = await portReady(rig);
        for (const [req, p] of [[R.SET_STATUS, { kind: 'u64', value: 0xfn }], [R.SET_STATUS, { kind: 'u64', value: 0n }], [R.SET_FEATURES, { kind: 'u64', value: 0n }], [R.RESET_DEVICE, { kind: 'none' }], [R.RESET_OWNER, { kind: 'none' }]] as [number, Payload][]) await ask(h.fe, req, p);
        for (const q of ALL) await h.queue(q);
        const until = Date.now() + 1000;
        for (let k = 0; Date.now() < until; k++) {
          const e = native.eventfdCreate();
          await Promise.all([ask(h.fe, R.SET_VRING_CALL, { kind: 'u64', value: BigInt(PORT1_TRANSMITQ) }, [e]), ask(h.fe, R.SET_VRING_ENABLE, vring(ALL[k % 4]!, k & 1))]);
          native.close(e);
        }
        h.close();
      } },
      { name: 'fds on requests that take none (16 each, 100 times), and one eventfd as the kick of two queues', run: async () => {
        const h = await portReady(rig);
        const sixteen = Array.from({ length: 16 }, () => native.eventfdCreate());
        try {
          for (let i = 0; i < 100; i++) if ((await ask(h.fe, R.SET_OWNER, { kind: 'none' }, sixteen)) === 'ok') { problems.push('SET_OWNER with 16 fds was accepted'); break; }
          await h.queue(PORT1_TRANSMITQ, { kick: sixteen[0]! });
          await h.queue(CONTROL_TRANSMITQ, { kick: sixteen[0]! });
          native.eventfdWrite(sixteen[0]!, 1);
          await sleep(100);
        } finally { h.close(); for (const fd of sixteen) native.close(fd); }
      } },
      { name: 'header flags with reserved bits and the reply bit on requests; a half-close after a request; a partial SET_MEM_TABLE with its fd, then gone', run: async () => {
        for (const flags of [0x1 | 0x4, 0x1 | 0x8 | 0xff00, 0xffffff01]) {
          const fd = native.connectUnix(rig.socketOf(TARGET));
          native.sendMsg(fd, encodeMessage({ request: R.GET_FEATURES, flags, payload: { kind: 'none' } }));
          if (flags === (0x1 | 0x4)) native.shutdown(fd, 'write');
          await sleep(50);
          native.close(fd);
        }
        const fd = native.connectUnix(rig.socketOf(TARGET));
        const mem = sealedMemfd(MiB);
        const table = encodeMessage({ request: R.SET_MEM_TABLE, flags: 0x1, payload: { kind: 'memTable', regions: [region(0n, BigInt(MiB), 0x7f0000000000n)] } });
        native.sendMsg(fd, table.subarray(0, 20), [mem]);
        native.close(mem);
        const next = await HostileFrontend.connect(rig.socketOf(BYSTANDER)).then((b) => { b.close(); return null; }, (e: Error) => e.message);
        if (next) problems.push(`another VM could not connect while the target's table was half sent: ${next}`);
        await sleep(100);
        native.close(fd);
      } },
      { name: 'a slowloris header and 50 parallel connections on the target while another VM sets up', run: async () => {
        const slow = native.connectUnix(rig.socketOf(TARGET));
        native.sendMsg(slow, new Uint8Array([1, 0, 0, 0, 1, 0]));
        const parked = Array.from({ length: 50 }, () => native.connectUnix(rig.socketOf(TARGET)));
        try {
          const b = await HostileFrontend.connect(rig.socketOf(BYSTANDER));
          for (const q of ALL) await b.queue(q);
          b.close();
        } catch (e) { problems.push(`another VM could not set up beside a slowloris target: ${(e as Error).message}`); }
        finally { native.close(slow); for (const fd of parked) native.close(fd); }
      } },
      { name: 'connect and close as fast as possible for 1 s', run: async () => {
        const until = Date.now() + 1000;
        while (Date.now() < until) {
          for (let i = 0; i < 20; i++) { try { native.close(native.connectUnix(rig.socketOf(TARGET))); } catch { /* backlog full */ } }
          await new Promise((r) => setImmediate(r));
        }
      } },
    ];
    const holderBefore = holderFds(rig);
    for (const p of probes) {
      try { await p.run(); } catch (e) { problems.push(`${p.name}: ${(e as Error).message}`); }
    }
    // The target VM is not wedged by any of it: a good front-end's port bytes reach the log.
    await sleep(300);
    const h = await portReady(rig);
    if (!(await transmitted(rig, h, 'a good front-end after the abuse\n'))) problems.push('the target VM does not serve a good front-end after the abuse');
    h.close();
    if (!(await waitUntil(() => holderFds(rig) <= holderBefore))) problems.push(`holder fds ${holderBefore} before, ${holderFds(rig)} after`);
    await verdict(rig, 'protocol abuse', problems);
  });
});

describe('what the holder keeps of a connection for the next engine', () => {
  it('ADD_MEM_REG / REM_MEM_REG of one region 500 times: the holder keeps no fd per cycle', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await portReady(rig, { protocolFeatures: ['MQ', 'REPLY_ACK', 'CONFIG', 'STATUS', 'CONFIGURE_MEM_SLOTS'] });
    const before = holderFds(rig);
    const fd = sealedMemfd(MiB);
    const r: Payload = { kind: 'memRegion', region: region(1n << 30n, BigInt(MiB), 0x7e0000000000n) };
    let accepted = 0;
    for (let i = 0; i < 500; i++) {
      // QEMU sends REM_MEM_REG without an fd; the spec lets one come (the back-end closes it).
      if ((await ask(h.fe, R.ADD_MEM_REG, r, [fd])) === 'ok') accepted++;
      await ask(h.fe, R.REM_MEM_REG, r, [fd]);
    }
    native.close(fd);
    const grown = holderFds(rig) - before;
    if (accepted < 500) problems.push(`only ${accepted} of 500 ADD_MEM_REG accepted: the attack did not happen`);
    if (grown > 16) problems.push(`the holder keeps ${grown} more fds after 500 ADD/REM cycles of one connection`);
    if (!(await transmitted(rig, h, 'after 500 ADD/REM cycles\n'))) problems.push('port 1 stopped after the cycles');
    h.close();
    await verdict(rig, 'ADD/REM_MEM_REG cycles', problems);
  });

  it('RESET_DEVICE and a fresh set-up (a guest reboot), then the engine dies: the next engine serves the target from the state after the reset', async () => {
    const rig = await rigs.start();
    const h = await portReady(rig);
    const reset = await ask(h.fe, R.RESET_DEVICE, { kind: 'none' });
    const features = await ask(h.fe, R.SET_FEATURES, { kind: 'u64', value: h.fe.ackedFeatures });
    for (const q of ALL) await h.queue(q);
    h.postControlBuffers(16);
    h.sendControl(0xffffffff, DEVICE_READY, 1);
    h.sendControl(1, PORT_READY, 1);
    const before = await transmitted(rig, h, 'after the reset\n');
    await waitUntil(() => readHolderStatus(rig.control)?.standbyReady === true, 10_000);
    process.kill(rig.enginePid, 'SIGKILL');
    const tookOver = await waitUntil(() => { const s = readHolderStatus(rig.control); return s?.engineState === 'up' && s.engine?.pid !== rig.enginePid; }, 10_000);
    await sleep(500); // the new engine has replayed the kept state by then (a replayed reset stopped every ring)
    const after = tookOver && await transmitted(rig, h, 'after the take-over\n');
    h.close();
    expect({ reset, features, before, tookOver, after }).toEqual({ reset: 'ok', features: 'ok', before: true, tookOver: true, after: true });
  });
});
