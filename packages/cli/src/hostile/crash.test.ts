// Issue 11, items 1-5: what a hostile front-end or guest did to kill the whole daemon. Each test
// attacks the TARGET VM while the victim streams; the verdict checks that the daemon lives, `ls`
// answered in < 1 s, the victim's log is byte-exact with no stall, and fds/RSS came back.
import { constants, openSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { encodeMessage, FrontendRequest as R } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_TRANSMITQ, type QueueSpec,
} from './hostile-frontend.js';
import { TARGET, rigPerTest, sleep, verdict, waitForLogLine, type Rig } from './rig.js';

const rigs = rigPerTest();
const MiB = 1 << 20;

async function target(rig: Rig, o: Parameters<typeof HostileFrontend.connect>[1] = {}): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET), o);
  rigs.defer(() => h.close());
  return h;
}

/** The attack must leave a trace: a warn/error line naming the target VM. */
async function loggedAboutTarget(rig: Rig, problems: string[]): Promise<void> {
  if (!(await waitForLogLine(rig, TARGET))) problems.push('no warn/error line about the target VM in the daemon log');
}

describe('item 1: received fds that are not eventfds, on the main thread', () => {
  const fifo = (rig: Rig) => {
    const path = join(rig.dir, 'kick.fifo');
    spawnSync('mkfifo', [path]);
    const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(path, constants.O_WRONLY);
    return { r, w };
  };
  const variants: { name: string; fds(rig: Rig, h: HostileFrontend): { spec: QueueSpec; afterStart(): void } }[] = [
    { name: 'control transmitq started with no call fd (no-fd bit), then kicked', fds: () => ({ spec: { call: 'none' }, afterStart() {} }) },
    { name: 'a read-only fd as call fd', fds: (_r, h) => ({ spec: { call: h.own(openSync('/dev/null', 'r')) }, afterStart() {} }) },
    {
      name: 'a socket as kick fd whose peer goes away with unread bytes (ECONNRESET)',
      fds: (_r, h) => {
        const [a, b] = native.socketPair();
        h.own(a);
        return { spec: { kick: a }, afterStart() { native.sendMsg(a, new Uint8Array(8)); native.close(b); } };
      },
    },
    {
      name: 'a pipe read end as kick fd whose writer goes away (EOF)',
      fds: (rig, h) => {
        const { r, w } = fifo(rig);
        h.own(r);
        return { spec: { kick: r }, afterStart() { native.close(w); } };
      },
    },
  ];
  for (const v of variants) {
    it(v.name, async () => {
      const rig = await rigs.start();
      const problems: string[] = [];
      const h = await target(rig);
      const { spec, afterStart } = v.fds(rig, h);
      await h.queue(CONTROL_RECEIVEQ);
      await h.queue(CONTROL_TRANSMITQ, spec);
      afterStart();
      h.sendControl(0xffffffff, DEVICE_READY, 1);
      await sleep(500);
      await loggedAboutTarget(rig, problems);
      h.close();
      await verdict(rig, `item 1: ${v.name}`, problems);
    });
  }
});

describe('item 2: a control transmitq chain with huge readable bytes', () => {
  it.each([
    { total: '4 GiB + 64 MiB', descs: 65 },
    { total: '512 MiB', descs: 8 },
  ])('a chain of $total ($descs descriptors over the same 64 MiB) is refused, not allocated', async ({ total, descs }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const h = await target(rig, { memory: [80 * MiB] });
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ, { size: 128 });
    const buf = h.alloc(64 * MiB);
    h.post(CONTROL_TRANSMITQ, Array.from({ length: descs }, () => ({ addr: buf, len: 64 * MiB })));
    h.queues.get(CONTROL_TRANSMITQ)!.kick();
    await sleep(1000);
    await loggedAboutTarget(rig, problems);
    h.close();
    await verdict(rig, `item 2: ${total}`, problems);
  });
});

describe('item 3: guest memory shrunk under the daemon', () => {
  it.each([
    { queue: CONTROL_TRANSMITQ, where: 'control transmitq (main thread)' },
    { queue: PORT1_TRANSMITQ, where: 'port transmitq (worker)' },
  ])('a memfd ftruncated after SET_MEM_TABLE, then a buffer past its new end on the $where: refused up front or no SIGBUS', async ({ queue }) => {
    const rig = await rigs.start();
    const problems: string[] = [];
    let h: HostileFrontend;
    try {
      h = await target(rig, { memory: [16 * MiB] });
    } catch {
      // The table was refused up front (an unsealed memfd): the expected outcome.
      return verdict(rig, `item 3: ${queue} (refused)`, problems);
    }
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(queue);
    native.ftruncate(h.fe.regions[0]!.fd, 1 * MiB); // the rings stay below 1 MiB
    h.post(queue, [{ addr: 8 * MiB, len: 4096 }]);
    h.queues.get(queue)!.kick();
    await sleep(800);
    h.close();
    await verdict(rig, `item 3: queue ${queue}`, problems);
  });
});

describe('item 4: a reply to a half-closed socket', () => {
  it('SET_OWNER with NEED_REPLY after shutdown(SHUT_RD): that connection ends, the VM takes the next one', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const fd = native.connectUnix(rig.socketOf(TARGET));
    rigs.defer(() => native.close(fd));
    native.shutdown(fd, 'read');
    native.sendMsg(fd, encodeMessage({ request: R.SET_OWNER, flags: 0x1 | 0x8, payload: { kind: 'none' } }));
    await sleep(500);
    native.close(fd);
    await sleep(300);
    try {
      const h = await target(rig);
      h.close();
    } catch (e) { problems.push(`the target VM did not take a new front-end: ${(e as Error).message}`); }
    await verdict(rig, 'item 4', problems);
  });
});

describe('item 5: the daemon log on a full filesystem', () => {
  it('a full disk under daemon.logFile: the daemon serves on and SIGTERM still stops it', async () => {
    // A 64 KiB tmpfs, nearly full (root can mount here); else /dev/full, which is full from byte 0.
    const mnt = join(await import('node:os').then((os) => os.tmpdir()), `vtcon-fullfs-${process.pid}-${Date.now()}`);
    spawnSync('mkdir', ['-p', mnt]);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status === 0;
    rigs.defer(() => { if (mounted) spawnSync('umount', ['-l', mnt]); spawnSync('rmdir', [mnt]); });
    if (mounted) writeFileSync(join(mnt, 'filler'), Buffer.alloc(56 * 1024));
    const rig = await rigs.start({ logFile: mounted ? join(mnt, 'daemon.log') : '/dev/full' });
    const problems: string[] = [];
    // Churn on the target: every connection and bad request is a log line.
    for (let i = 0; i < 20; i++) {
      let h: HostileFrontend;
      try { h = await target(rig); } catch { break; } // a daemon that hangs answers no more: the verdict says so
      for (let k = 0; k < 20; k++) h.fe.request(99, { kind: 'none' }).catch(() => undefined);
      await sleep(20);
      h.close();
    }
    await verdict(rig, 'item 5', problems);
    rig.child.kill('SIGTERM');
    const exited = await Promise.race([new Promise((r) => rig.child.once('exit', () => r(true))), sleep(3000).then(() => false)]);
    if (!exited && rig.child.exitCode === null) throw new Error('SIGTERM did not stop the daemon within 3 s (log on a full disk)');
  });
});
