// Throughput with a real guest, side by side with QEMU's in-process virtio-serial: prints a table
// and writes a benchmark run record (suite 'real-guest'); asserts only that it could measure.
// Not part of the e2e suite (its name does not end in .test.ts); run it with
//   node tools/e2e/src/throughput.mjs            (builds nothing; build the CLI first)
// Settings (throughput-report.ts): VTCON_TP_HVC_MIB, VTCON_TP_PORT_MIB, VTCON_TP_H2G_MIB,
// VTCON_TP_MIB (all three), VTCON_TP_ROUNDS, VTCON_TP_CASES (ids, e.g. "hvc0,h2g"), VTCON_TP_OUT.
//
// Two guests run the same workload: one on vtcon (daemon defaults: 2 workers, 1 MiB scrollback,
// port logs on), one on QEMU's virtconsole/virtserialport with chardev sockets. Each round runs
// every case on both, alternating which goes first. Guest→host MB/s is guest-timed (/proc/uptime
// around the dd loop: a write returns once the device used the buffer); a raw reader's bytes
// are hashed per repeat of the guest's random file and compared with the guest's sha256.
// Host→guest MB/s is host-timed from the first byte written to the guest's `head -c` finishing.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findPort } from './daemon.js';
import { daemonsPerTest, guestsPerTest } from './failure-log.js';
import type { Guest } from './qemu.js';
import { e2eTempDir } from './tmp.js';
import { type Device, PORT_IN, qemuDevice, qemuSerialArgs, vtconDevice } from './throughput-devices.js';
import { type CaseSummary, formatTable, MiB, realGuestCases, type Sample, type ThroughputCase, throughputCases, throughputSettings } from './throughput-report.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const settings = throughputSettings(process.env, join(repoRoot, 'benchmarks', 'results'));
const boot = guestsPerTest();
const startDaemon = daemonsPerTest();
/** The guest's random file: every guest→host case writes it `repeats` times. */
const FILE_MIB = Math.min(16, settings.hvcMiB, settings.portMiB);

/**
 * Boots a guest to its shell; boots it again (twice at most) if QEMU exits first: under heavy
 * load the TCG guest's kernel sometimes panics in its timer check ("IO-APIC + timer doesn't work").
 */
async function bootShell(opts: Parameters<typeof boot>[0]): Promise<Guest> {
  for (let attempt = 1; ; attempt++) {
    const g = boot(opts);
    try {
      await g.waitFor(/^VTCON shell ready$/, { timeoutMs: 120_000 });
      return g;
    } catch (e) {
      if (g.running || attempt === 3) throw e;
      process.stdout.write(`${opts.name}: QEMU exited before the shell was ready (attempt ${attempt}); booting it again\n`);
    }
  }
}

/** Device node of a port in the guest (by name, or hvc0 as is). */
async function devOf(g: Guest, port: string): Promise<string> {
  const r = await g.exec(`. /scenarios/_lib.sh; echo "portdev $(wait_port ${port} 20)"`);
  const line = r.output.map((l) => /^portdev (\S+)$/.exec(l)).find((m) => m !== null);
  if (!line) throw new Error(`${g.name}: no device for port ${port}: ${r.output.join(' | ')}`);
  return line[1]!;
}

async function guestToHost(dev: Device, c: Extract<ThroughputCase, { dir: 'g2h' }>, sha: string): Promise<Sample> {
  const g = dev.guest;
  const repeats = Math.max(1, Math.round(c.mib / FILE_MIB));
  const bytes = repeats * FILE_MIB * MiB;
  const node = await devOf(g, dev.outPort(c));
  const reader = await dev.reader(c, FILE_MIB * MiB);
  if (reader) await sleep(300); // the chardev / attach server takes the client in
  const d = dev.daemon;
  const before = d ? (await d.portNow('vm1', c.port === 'hvc0' ? 'console' : 'org.test.0'))!.bytesIn : 0;
  const cpu0 = d?.cpuSeconds() ?? 0;
  const main0 = d?.mainThreadCpuSeconds() ?? 0;
  // hvc: raw on the open fd (no \n → \r\n); a vport is a plain character device
  const open = node.startsWith('/dev/hvc') ? `exec 3<>${node}; stty raw -echo <&3;` : `exec 3<>${node};`;
  const loop = Array.from({ length: repeats }, () => `dd if=/tmp/d bs=${c.bs} 2>/dev/null >&3;`).join(' ');
  const from = g.serial.lines().length;
  const r = await g.exec(`${open} a=$(cut -d" " -f1 /proc/uptime); ${loop} b=$(cut -d" " -f1 /proc/uptime); exec 3<&-; echo "guest-seconds $a $b"`, { timeoutMs: 900_000 });
  expect(r.rc).toBe(0);
  const gs = g.serial.lines().slice(from).map((l) => /^guest-seconds ([\d.]+) ([\d.]+)$/.exec(l)).find((m) => m !== null);
  const seconds = gs ? Number(gs[2]) - Number(gs[1]) : NaN;
  const notes: string[] = [];
  let cpu: Pick<Sample, 'cpuPerMiB' | 'mainCpuPerMiB'> = {};
  if (d) {
    // every used chain is in the log; the main thread may still be delivering to the sinks
    const port = c.port === 'hvc0' ? 'console' : 'org.test.0';
    for (let i = 0; i < 500 && (await d.portNow('vm1', port))!.bytesIn - before < bytes; i++) await sleep(20);
    const got = (await d.portNow('vm1', port))!.bytesIn - before;
    if (got !== bytes) notes.push(`daemon counted ${got} of ${bytes} bytes`);
    if (reader) await reader.settle(bytes);
    cpu = { cpuPerMiB: (d.cpuSeconds() - cpu0) / (bytes / MiB), mainCpuPerMiB: (d.mainThreadCpuSeconds() - main0) / (bytes / MiB) };
  } else if (reader) await reader.settle(bytes);
  let exact: boolean | null = null;
  if (reader) {
    const bad = reader.check(bytes, sha);
    exact = bad === null;
    if (bad !== null) notes.push(bad);
    reader.close();
  }
  return { bytesPerSec: bytes / seconds, ...cpu, exact, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
}

async function hostToGuest(dev: Device, c: Extract<ThroughputCase, { dir: 'h2g' }>): Promise<Sample> {
  const g = dev.guest;
  const bytes = c.mib * MiB;
  const payload = randomBytes(bytes);
  const node = await devOf(g, PORT_IN);
  const from = g.serial.lines().length;
  const reading = g.exec(`exec 3<>${node}; echo "VTCON h2g-ready"; head -c ${bytes} <&3 >/tmp/in; echo "VTCON h2g-done"; exec 3<&-; echo "VTCON h2g-sha $(sha256sum </tmp/in | cut -d' ' -f1) $(wc -c </tmp/in)"`, { timeoutMs: 900_000 });
  await g.waitFor(/^VTCON h2g-ready$/, { from, timeoutMs: 30_000 });
  const d = dev.daemon;
  if (d) await d.waitUntil((vms) => findPort(vms, 'vm1', PORT_IN)?.guestOpen === true, `${PORT_IN} open`);
  const cpu0 = d?.cpuSeconds() ?? 0;
  let t0 = 0n;
  let sock: ReturnType<typeof connect> | null = null;
  if (c.path === 'send') {
    // the control API's send (what `vtcon send` calls), in chunks the backlog takes, retried while full
    if (!d) throw new Error('send: vtcon only');
    t0 = process.hrtime.bigint();
    const chunk = 256 * 1024;
    for (let off = 0; off < bytes;) {
      const part = payload.subarray(off, off + chunk);
      const r = await d.call<{ accepted: number; bytes: number }>('send', { vm: 'vm1', port: PORT_IN, data: part.toString('base64') });
      if (r.accepted === r.bytes) off += part.length;
      else if (r.accepted === 0) await sleep(5);
      else throw new Error(`partial accept ${JSON.stringify(r)}`);
    }
  } else {
    // a raw client: the writer (no other client), bytes as typed; the socket's backpressure paces it
    const s = (sock = connect(await dev.inputPath()));
    await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
    await sleep(300);
    t0 = process.hrtime.bigint();
    for (let off = 0; off < bytes; off += 64 * 1024) {
      if (!s.write(payload.subarray(off, off + 64 * 1024))) await new Promise((res) => s.once('drain', res));
    }
  }
  await g.waitFor(/^VTCON h2g-done$/, { from, timeoutMs: 900_000 });
  sock?.destroy();
  const t1 = process.hrtime.bigint();
  const cpu1 = d?.cpuSeconds() ?? 0;
  expect((await reading).rc).toBe(0);
  const got = (await g.waitFor(/^VTCON h2g-sha (\w+) (\d+)$/, { from })).match;
  const want = createHash('sha256').update(payload).digest('hex');
  const exact = got[1] === want && Number(got[2]) === bytes;
  return {
    bytesPerSec: bytes / (Number(t1 - t0) / 1e9), exact,
    ...(d ? { cpuPerMiB: (cpu1 - cpu0) / c.mib } : {}),
    ...(exact ? {} : { note: `guest got ${got[2]} bytes, sha256 ${got[1] === want ? 'equal' : 'differs'}` }),
  };
}

async function writeRecord(cases: ReturnType<typeof realGuestCases>, startedAt: Date, durationMs: number): Promise<string | null> {
  if (settings.out === null) return null;
  const lib = (f: string): string => pathToFileURL(join(repoRoot, 'benchmarks', 'lib', f)).href;
  const env = (await import(lib('environment.mjs'))) as { machineInfo(): object; vtconPackageVersions(r: string): object; gitState(r: string): object };
  const schema = (await import(lib('schema.mjs'))) as { RUN_SCHEMA_VERSION: number; assertRun(r: unknown, where: string): unknown };
  const full = settings.rounds >= 3 && settings.only.length === 0;
  const record = {
    schemaVersion: schema.RUN_SCHEMA_VERSION, date: startedAt.toISOString(), quick: !full,
    machine: env.machineInfo(), node: process.version, packages: env.vtconPackageVersions(repoRoot), git: env.gitState(repoRoot),
    suites: [{ name: 'real-guest', status: 'ok', durationMs, cases: cases.length }], cases,
  };
  const file = join(settings.out, `run-${record.date.replace(/:/g, '-')}.json`);
  schema.assertRun(record, file);
  mkdirSync(settings.out, { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

describe('throughput with a real guest, vtcon beside QEMU in-process (figures, not assertions on time)', () => {
  it('measures every case on both devices, interleaved', async () => {
    const startedAt = new Date();
    const cases = throughputCases(settings);
    expect(cases.length).toBeGreaterThan(0);
    const d = await startDaemon({
      vms: [{ name: 'vm1', maxPorts: 4, ports: [{ name: 'console', console: true }, { name: 'org.test.0' }, { name: PORT_IN }] }],
      logLevel: 'info', scrollbackBytes: MiB, workers: 2,
    });
    const serial = qemuSerialArgs(e2eTempDir('vtcon-tp-q-'));
    const [vg, qg] = await Promise.all([
      bootShell({ scenario: 'shell', stay: true, socketPath: d.socketOf('vm1'), numPorts: 4, name: 'vtcon' }),
      bootShell({ scenario: 'shell', stay: true, extraArgs: serial.args, name: 'qemu' }),
    ]);
    const devices: Device[] = [vtconDevice(d, vg), qemuDevice(qg, serial.sockets)];
    const sha = new Map<Device, string>();
    for (const dev of devices) {
      const r = await dev.guest.exec(`head -c ${FILE_MIB * MiB} /dev/urandom >/tmp/d; echo "file-sha $(sha256sum </tmp/d | cut -d' ' -f1)"`, { timeoutMs: 180_000 });
      expect(r.rc).toBe(0);
      sha.set(dev, r.output.map((l) => /^file-sha (\w+)$/.exec(l)).find((m) => m !== null)![1]!);
    }
    const rows: CaseSummary[] = cases.map((c) => ({ c, vtcon: [], qemu: [] }));
    for (let round = 0; round < settings.rounds; round++) {
      for (const row of rows) {
        const order = round % 2 === 0 ? devices : [...devices].reverse();
        for (const dev of order) {
          const c = row.c;
          // no send API nor `vtcon attach` in QEMU: its attach-socket / raw-reader row is the reference
          if (dev.name === 'qemu' && ((c.dir === 'h2g' && c.path === 'send') || (c.dir === 'g2h' && c.reader === 'ro'))) continue;
          const s = c.dir === 'g2h' ? await guestToHost(dev, c, sha.get(dev)!) : await hostToGuest(dev, c);
          row[dev.name].push(s);
          process.stdout.write(`round ${round + 1} ${dev.name.padEnd(5)} ${c.id}: ${(s.bytesPerSec / 1e6).toFixed(1)} MB/s` +
            `${s.cpuPerMiB !== undefined ? `, CPU ${s.cpuPerMiB.toFixed(4)} s/MiB (main ${s.mainCpuPerMiB?.toFixed(4) ?? '-'})` : ''}` +
            `${s.exact === null ? '' : s.exact ? ', exact' : ', NOT EXACT'}${s.note ? ` (${s.note})` : ''}\n`);
        }
      }
    }
    // host→guest via send and `vtcon attach` have no QEMU figure of their own: compare them with
    // QEMU's chardev socket (the attach row, the raw-reader row of the same workload)
    for (const r of rows) {
      const c = r.c;
      const ref = c.dir === 'h2g' && c.path === 'send' ? rows.find((x) => x.c.dir === 'h2g' && x.c.path === 'attach')
        : c.dir === 'g2h' && c.reader === 'ro' ? rows.find((x) => x.c.dir === 'g2h' && x.c.port === c.port && x.c.bs === c.bs && x.c.reader === 'raw') : undefined;
      if (ref) r.qemu = ref.qemu;
    }
    process.stdout.write(`\nTHROUGHPUT, vtcon vs QEMU in-process virtio-serial (real QEMU TCG guest, Linux; one vCPU; MB = 10^6 bytes; median of ${settings.rounds})\n`);
    process.stdout.write(`${formatTable(rows)}\n`);
    const file = await writeRecord(realGuestCases(rows), startedAt, Date.now() - startedAt.getTime());
    if (file) process.stdout.write(`run record: ${file}\n`);
  });
});
