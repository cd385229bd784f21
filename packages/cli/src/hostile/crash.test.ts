// Issue 11, items 1-5: what a hostile front-end or guest did to kill the whole daemon. Each test
// attacks the TARGET VM while the victim streams; the verdict checks that the daemon lives, `ls`
// answered in < 1 s, the victim's log is byte-exact with no stall, and fds/RSS came back.
import { constants, openSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { encodeMessage, FrontendRequest as R } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { encodeControl } from '@vtcon/console/testing';
import {
  CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, DEVICE_READY, HostileFrontend, PORT1_TRANSMITQ, memTable, refusal, type QueueSpec,
} from './hostile-frontend.js';
import { TARGET, logLines, rigPerTest, sleep, verdict, waitForLogLine, waitUntil, type Rig } from './rig.js';

const rigs = rigPerTest();
const MiB = 1 << 20;

async function target(rig: Rig, o: Parameters<typeof HostileFrontend.connect>[1] = {}): Promise<HostileFrontend> {
  const h = await HostileFrontend.connect(rig.socketOf(TARGET), o);
  rigs.defer(() => h.close());
  return h;
}

const countLines = (rig: Rig, reason: string) => logLines(rig, (l) => l.vm === TARGET && JSON.stringify(l).includes(reason)).length;
const badFdLines = (rig: Rig) => countLines(rig, 'BAD_FD_TYPE');
const notSealedLines = (rig: Rig) => countLines(rig, 'MEMORY_NOT_SEALED');

/** The attack must leave a trace: a warn/error line naming the target VM. */
async function loggedAboutTarget(rig: Rig, problems: string[]): Promise<void> {
  if (!(await waitForLogLine(rig, TARGET))) problems.push('no warn/error line about the target VM in the daemon log');
}

describe('item 1: received fds that are not eventfds, on the main thread', () => {
  // Each attack on its own connection to the TARGET, one after the other on one rig: they share
  // nothing but the daemon, which is what the verdict checks.
  it('a read-only fd as call fd, a socket or a pipe as kick fd: refused at SET_VRING_CALL/KICK (BAD_FD_TYPE); no call fd at all: served', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const fifo = () => {
      const path = join(rig.dir, `kick-${Date.now()}.fifo`);
      spawnSync('mkfifo', [path]);
      const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const w = openSync(path, constants.O_WRONLY);
      return { r, w };
    };
    const refused: { name: string; fds(h: HostileFrontend): { spec: QueueSpec; afterwards(): void } }[] = [
      { name: 'a read-only fd (/dev/null) as call fd', fds: (h) => ({ spec: { call: h.own(openSync('/dev/null', 'r')) }, afterwards() {} }) },
      {
        name: 'a socket as kick fd (its peer then goes away with unread bytes: ECONNRESET)',
        fds: (h) => {
          const [a, b] = native.socketPair();
          h.own(a);
          return { spec: { kick: a }, afterwards() { native.sendMsg(a, new Uint8Array(8)); native.close(b); } };
        },
      },
      {
        name: 'a pipe read end as kick fd (its writer then goes away: EOF)',
        fds: (h) => { const { r, w } = fifo(); h.own(r); return { spec: { kick: r }, afterwards() { native.close(w); } }; },
      },
    ];
    for (const v of refused) {
      const h = await target(rig);
      const seen = badFdLines(rig);
      await h.queue(CONTROL_RECEIVEQ);
      const { spec, afterwards } = v.fds(h);
      const why = await refusal(h.queue(CONTROL_TRANSMITQ, spec));
      afterwards();
      if (why === null) problems.push(`${v.name}: accepted`);
      else if (!/REPLY_FAILED/.test(why)) problems.push(`${v.name}: not a refusal reply: ${why}`);
      if (!(await waitUntil(() => badFdLines(rig) > seen))) problems.push(`${v.name}: no BAD_FD_TYPE line about the target VM`);
      h.close();
    }
    // The no-fd bit is legal (the front-end polls the used ring): the queue is served, nothing signalled.
    const h = await target(rig);
    await h.queue(CONTROL_RECEIVEQ);
    await h.queue(CONTROL_TRANSMITQ, { call: 'none' });
    h.sendControl(0xffffffff, DEVICE_READY, 1);
    if (!(await waitUntil(() => h.queues.get(CONTROL_TRANSMITQ)!.reclaim() > 0))) problems.push('no call fd: the control transmitq was never served');
    h.close();
    await verdict(rig, 'item 1', problems);
  });
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
  it('an unsealed memfd or a regular file is refused at SET_MEM_TABLE (MEMORY_NOT_SEALED); a sealed one cannot shrink, and its queues serve', async () => {
    const rig = await rigs.start();
    const problems: string[] = [];
    const unsealed: { name: string; open(): number }[] = [
      { name: 'an unsealed memfd', open: () => native.memfdCreate('vtcon-hostile-unsealed') },
      { name: 'a regular file', open: () => openSync(join(rig.dir, 'guest-ram'), 'w+') },
    ];
    for (const u of unsealed) {
      const fd = u.open();
      rigs.defer(() => native.close(fd));
      native.ftruncate(fd, 16 * MiB);
      const seen = notSealedLines(rig);
      const why = await memTable(rig.socketOf(TARGET), fd, 16 * MiB);
      if (why === null) problems.push(`${u.name}: the table was accepted`);
      else if (!(await waitUntil(() => notSealedLines(rig) > seen))) problems.push(`${u.name}: refused (${why}) but no MEMORY_NOT_SEALED line about the target VM`);
      native.close(fd);
    }
    // The path behind the check: sealed memory (as QEMU's memfd backend makes it) cannot shrink,
    // so the buffer past the would-be end stays mapped and is served, on both threads.
    for (const queue of [CONTROL_TRANSMITQ, PORT1_TRANSMITQ]) {
      const h = await target(rig, { memory: [16 * MiB] });
      await h.queue(CONTROL_RECEIVEQ);
      await h.queue(queue);
      try {
        native.ftruncate(h.fe.regions[0]!.fd, 1 * MiB);
        problems.push(`queue ${queue}: a sealed memfd shrank`);
      } catch (e) {
        if (!/EPERM/.test((e as Error).message)) problems.push(`queue ${queue}: ftruncate failed with ${(e as Error).message}, not EPERM`);
      }
      // A well-formed message at 8 MiB (a control message on the control queue, text on the port).
      const bytes = queue === CONTROL_TRANSMITQ ? encodeControl(0xffffffff, DEVICE_READY, 1) : Buffer.from('past the would-be end\n');
      h.write(8 * MiB, bytes);
      h.post(queue, [{ addr: 8 * MiB, len: bytes.length }]);
      h.queues.get(queue)!.kick();
      if (!(await waitUntil(() => h.queues.get(queue)!.reclaim() > 0))) problems.push(`queue ${queue}: the buffer at 8 MiB was never used`);
      h.close();
    }
    await verdict(rig, 'item 3', problems);
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
