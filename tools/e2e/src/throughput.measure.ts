// Throughput with a real guest: prints figures, asserts only correctness (no timing targets).
// Not part of the e2e suite (its name does not end in .test.ts); run it with
//   node tools/e2e/src/throughput.mjs            (builds nothing; build the CLI first)
// Figures: guest→host MB/s on hvc0 (dd bs=2048) and on a named port (dd bs=64k), measured on the
// host from the first to the last byte counted by the daemon (bytesIn) and as dd reports it in the
// guest; the daemon's CPU seconds per MiB (/proc/PID/stat utime+stime); host→guest MB/s through
// the control API's send, byte-exact (hashed in the guest).
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { findPort, type VtconDaemon } from './daemon.js';
import { daemonsPerTest, guestsPerTest } from './failure-log.js';
import type { Guest } from './qemu.js';

const boot = guestsPerTest();
const startDaemon = daemonsPerTest();
const MiB = 1024 * 1024;
const SIZE_MIB = Number(process.env.VTCON_TP_MIB ?? 8);

interface Figure { what: string; mib: number; hostSeconds: number; mbps: number; guestDd: string; cpuSecondsPerMiB: number; mainThreadCpuSecondsPerMiB?: number }

/** Repeats of the random file per guest→host run: the named port is too fast for 8 MiB to time well. */
const REPEATS: Record<string, number> = { '2048': 1, '64k': 8 };

async function guestToHost(d: VtconDaemon, g: Guest, port: string, dev: string, bs: string): Promise<Figure> {
  const repeats = REPEATS[bs] ?? 1;
  const bytes = SIZE_MIB * MiB * repeats;
  const before = (await d.portNow('vm1', port))!.bytesIn;
  const cpu0 = d.cpuSeconds();
  const main0 = d.mainThreadCpuSeconds();
  const from = g.serial.lines().length;
  // hvc: raw on the open fd (no \n → \r\n); a vport is a plain character device
  const open = dev.startsWith('/dev/hvc') ? `exec 3<>${dev}; stty raw -echo <&3;` : `exec 3<>${dev};`;
  const t0 = process.hrtime.bigint();
  // guest-side elapsed time from /proc/uptime (10 ms resolution) around the writes
  const loop = Array.from({ length: repeats }, () => `dd if=/tmp/d bs=${bs} 2>/dev/null >&3;`).join(' ');
  const run = g.exec(`${open} a=$(cut -d" " -f1 /proc/uptime); ${loop} b=$(cut -d" " -f1 /proc/uptime); echo "guest-seconds $a $b"`, { timeoutMs: 600_000 });
  let first = 0n;
  for (let i = 0; i < 60_000; i++) {
    const now = (await d.portNow('vm1', port))!.bytesIn - before;
    if (now > 0 && first === 0n) first = process.hrtime.bigint();
    if (now >= bytes) break;
    await sleep(20);
  }
  const t1 = process.hrtime.bigint();
  const r = await run;
  expect(r.rc).toBe(0);
  const cpu1 = d.cpuSeconds();
  const main1 = d.mainThreadCpuSeconds();
  expect((await d.portNow('vm1', port))!.bytesIn - before).toBe(bytes);
  // from the command being typed (includes the guest shell starting dd) to the last byte counted
  const hostSeconds = Number(t1 - t0) / 1e9;
  const firstToLast = Number(t1 - (first || t0)) / 1e9;
  const gs = g.serial.lines().slice(from).map((l) => /^guest-seconds ([\d.]+) ([\d.]+)$/.exec(l)).find((m) => m !== null);
  const guestSeconds = gs ? Number(gs[2]) - Number(gs[1]) : NaN;
  const mib = bytes / MiB;
  return {
    what: `guest→host ${dev} dd bs=${bs}`, mib, hostSeconds, mbps: bytes / 1e6 / hostSeconds,
    guestDd: `guest-timed ${guestSeconds.toFixed(2)} s = ${(bytes / 1e6 / guestSeconds).toFixed(1)} MB/s; host first→last byte ${firstToLast.toFixed(2)} s`,
    cpuSecondsPerMiB: (cpu1 - cpu0) / mib,
    mainThreadCpuSecondsPerMiB: (main1 - main0) / mib,
  };
}

describe('throughput with a real guest (figures, not assertions on time)', () => {
  it('measures guest→host on hvc0 and a named port, and host→guest byte-exact', async () => {
    const d = await startDaemon({
      vms: [{ name: 'vm1', maxPorts: 4, ports: [{ name: 'console', console: true }, { name: 'org.test.0' }, { name: 'org.test.1' }] }],
      logLevel: 'info',
      scrollbackBytes: 4 * MiB,
    });
    const g = boot({ scenario: 'shell', stay: true, socketPath: d.socketOf('vm1'), numPorts: 4, name: 'throughput' });
    await g.waitFor(/^VTCON shell ready$/, { timeoutMs: 90_000 });
    expect((await g.exec(`head -c ${SIZE_MIB * MiB} /dev/urandom >/tmp/d`, { timeoutMs: 120_000 })).rc).toBe(0);
    const figures: Figure[] = [];
    figures.push(await guestToHost(d, g, 'console', '/dev/hvc0', '2048'));
    figures.push(await guestToHost(d, g, 'org.test.0', '/dev/vport0p1', '64k'));

    // host → guest: random bytes through the control API's send (what `vtcon send -` calls), in
    // chunks the port's backlog (1 MiB) can take, retried while it is full
    const bytes = Math.min(SIZE_MIB, 4) * MiB;
    const payload = randomBytes(bytes);
    const from = g.serial.lines().length;
    const reading = g.exec(`VTCON_PORT=org.test.1 VTCON_BYTES=${bytes} sh /scenarios/read-bytes.sh`, { timeoutMs: 600_000 });
    await g.waitFor(/^VTCON ready dev=/, { from, timeoutMs: 30_000 });
    await d.waitUntil((vms) => findPort(vms, 'vm1', 'org.test.1')?.guestOpen === true, 'org.test.1 open');
    const cpu0 = d.cpuSeconds();
    const t0 = process.hrtime.bigint();
    const chunk = 256 * 1024;
    for (let off = 0; off < bytes;) {
      const part = payload.subarray(off, off + chunk);
      const r = await d.call<{ accepted: number; bytes: number }>('send', { vm: 'vm1', port: 'org.test.1', data: part.toString('base64') });
      if (r.accepted === r.bytes) off += part.length;
      else if (r.accepted === 0) await sleep(10);
      else throw new Error(`partial accept ${JSON.stringify(r)}`);
    }
    expect((await reading).rc).toBe(0);
    const t1 = process.hrtime.bigint();
    const cpu1 = d.cpuSeconds();
    const got = (await g.waitFor(/^VTCON received bytes=(\d+) sha256=(\w+)/, { from })).match;
    expect({ bytes: Number(got[1]), sha256: got[2] }).toEqual({ bytes, sha256: createHash('sha256').update(payload).digest('hex') });
    const s = Number(t1 - t0) / 1e9;
    figures.push({ what: 'host→guest org.test.1 (send API, 256 KiB chunks; guest head -c | sha256)', mib: bytes / MiB, hostSeconds: s, mbps: bytes / 1e6 / s, guestDd: 'byte-exact (sha256 equal)', cpuSecondsPerMiB: (cpu1 - cpu0) / (bytes / MiB) });

    process.stdout.write('\nTHROUGHPUT (real QEMU 11.1.3 TCG guest, Linux 6.12; one vCPU; MB = 10^6 bytes)\n');
    for (const f of figures) {
      process.stdout.write(`  ${f.what}: ${f.mib} MiB in ${f.hostSeconds.toFixed(2)} s = ${f.mbps.toFixed(1)} MB/s; daemon CPU ${f.cpuSecondsPerMiB.toFixed(3)} s/MiB${f.mainThreadCpuSecondsPerMiB !== undefined ? ` (main thread ${f.mainThreadCpuSecondsPerMiB.toFixed(3)})` : ''}; guest: ${f.guestDd}\n`);
    }
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  });
});
