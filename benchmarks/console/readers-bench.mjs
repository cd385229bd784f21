#!/usr/bin/env node
// Readers of one port's attach socket, measured on the whole daemon (issue 14: "every reader's
// bytes equal the guest's (sha256) ... with 1 and with 16 readers on one port; daemon RSS growth
// with 16 slow readers < 16 MiB"). The built `vtcon serve` (holder + engine with their defaults:
// 2 workers, 1 MiB scrollback, the port log rotated at 16 MiB; fleet-rig.mjs starts it), a
// seed-model guest in a child process (guest-load.mjs) writing fresh random bytes on the data port
// as fast as the device uses them, and raw readers in this process, attached to the port's attach
// socket as conserver's `uds` console or socat would be (connect, say nothing, read).
//
// A slow reader reads `slowRate` bytes/s while the guest writes, so it lags by most of the stream
// (the daemon must hold it without buffering what it has not read: readers follow the port log
// with their own offset). Once the guest is done every reader reads at full speed until it has
// every byte. The daemon's RSS (engine + holder, /proc/<pid>/status VmRSS) is sampled every 20 ms
// from the readers' attach to the last reader's last byte; growth = max - the value just before
// the readers attached. Then each reader's sha256 is compared with the guest's, and the port log's.
//
//   node benchmarks/console/readers-bench.mjs [--quick] [--runs 3]
//
// Exports runReadersBench({ quick }) for benchmarks/run.mjs (suite 'readers').
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readLogFiles } from '@vtcon/console';
import { cliModule, DATA_PORT, sleep, startDaemon } from '../fleet/fleet-rig.mjs';
import { statusBytes } from '../lib/proc.mjs';

/** The CLI's own reader of the holder's status file (which names the engine's pid). */
const { readHolderStatus } = await cliModule('cli/holder-status.js');

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1 << 20;
/** The port log's default rotation (packages/cli config schema): a run spans several files. */
const ROTATE_BYTES = 16 * MiB;
const SAMPLE_MS = 20;

/** `p`, or an Error saying `what()` once `ms` passed (a stalled stream fails the case, not hangs it). */
async function within(p, ms, what) {
  let t;
  const late = new Promise((_resolve, reject) => { t = setTimeout(() => reject(new Error(`readers-bench: ${what()} after ${ms / 1000} s`)), ms); });
  try { return await Promise.race([p, late]); } finally { clearTimeout(t); }
}

/**
 * A raw attach client that hashes what it reads. rate > 0: at most `rate` bytes/s (the socket is
 * paused after each read for as long as that read is worth) until fast().
 */
function rawReader(path, total, rate) {
  const s = connect(path);
  const h = createHash('sha256');
  let n = 0;
  let slow = rate > 0;
  let timer = null;
  const done = new Promise((resolve, reject) => {
    s.on('data', (b) => {
      h.update(b);
      n += b.length;
      if (n >= total) resolve();
      else if (slow) {
        s.pause();
        timer = setTimeout(() => { timer = null; s.resume(); }, (b.length / rate) * 1000);
      }
    });
    s.once('error', reject);
    s.once('close', () => reject(new Error(`attach reader closed after ${n} of ${total} bytes`)));
  });
  done.catch(() => undefined); // awaited later; a close after the last byte is the normal end
  return {
    connected: new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject)),
    done,
    fast() { slow = false; if (timer) clearTimeout(timer); timer = null; s.resume(); },
    bytes: () => n,
    digest: () => h.digest('hex'),
    close: () => s.destroy(),
  };
}

/** The guest (guest-load.mjs in a child) on the daemon's VM: only DATA_PORT writes, random bytes. */
function startGuest(socket, bytes) {
  const child = fork(join(here, 'guest-load.mjs'), [JSON.stringify({
    sockets: [socket], portsPerGuest: 2, chunk: 4096, inflight: 32, bytesPerPort: bytes, port: DATA_PORT, random: true,
  })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (t) => new Promise((resolve, reject) => {
    const on = (m) => { if (m.t === t) { child.off('message', on); resolve(m); } };
    child.on('message', on);
    child.once('exit', (code) => reject(new Error(`guest-load exited ${code} waiting for '${t}'`)));
  });
  return {
    child, next,
    exit: () => new Promise((r) => { if (child.exitCode !== null) r(); else { child.once('exit', r); child.send('exit'); setTimeout(r, 5000); } }),
  };
}

/** sha256 and length of the port log across its rotated files, oldest first. */
async function logDigest(path) {
  const h = createHash('sha256');
  let n = 0;
  for await (const b of readLogFiles(path)) { h.update(b); n += b.length; }
  return { digest: h.digest('hex'), bytes: n };
}

/**
 * One case on a fresh daemon: `readers` raw readers (rate bytes/s each while the guest writes,
 * 0 = as fast as they can) on DATA_PORT while the guest writes `bytes`.
 */
export async function readersCase({ readers, rate = 0, bytes }) {
  const d = await startDaemon({ rotateBytes: ROTATE_BYTES });
  const guest = startGuest(d.socket, bytes);
  const clients = [];
  try {
    await guest.next('ready');
    // startDaemon returns once the warm standby engine is up: the engine measured is idle.
    const enginePid = readHolderStatus(d.control).engine.pid;
    const rss = () => {
      const engine = statusBytes(enginePid, 'VmRSS');
      const holder = statusBytes(d.pid, 'VmRSS');
      // The engine's split: private pages vs guest-RAM pages it touched (shared with the guest).
      return { engine, holder, daemon: engine + holder, engineAnon: statusBytes(enginePid, 'RssAnon'), engineShmem: statusBytes(enginePid, 'RssShmem') };
    };
    await sleep(500);
    const base = rss();
    const max = { ...base };
    const sampler = setInterval(() => {
      const r = rss();
      for (const k of Object.keys(max)) max[k] = Math.max(max[k], r[k]);
    }, SAMPLE_MS);
    try {
      for (let i = 0; i < readers; i++) clients.push(rawReader(d.attachPath, bytes, rate));
      await Promise.all(clients.map((c) => c.connected));
      // A raw client is classified (and starts at the log's end) after the handshake grace, 200 ms.
      await sleep(600);
      const t0 = performance.now();
      guest.child.send('go');
      const done = await within(guest.next('done'), 300_000, () => `the guest had not written ${bytes} bytes`);
      const guestSec = (performance.now() - t0) / 1000;
      for (const c of clients) c.fast();
      await within(Promise.all(clients.map((c) => c.done)), 300_000, () => `readers stalled at ${clients.map((c) => c.bytes()).join(', ')} of ${bytes} bytes`);
      const readersSec = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      await sleep(200); // anything past the guest's bytes would arrive now and fail the compare
      const want = done.sent[DATA_PORT];
      const log = await logDigest(d.logFile);
      const differ = clients.filter((c) => c.bytes() !== bytes || c.digest() !== want).length;
      const params = { readers, reader: rate > 0 ? 'slow' : 'fast', ...(rate > 0 ? { readerBytesPerSec: rate } : {}), mib: bytes / MiB };
      return [
        {
          suite: 'readers', name: 'daemon RSS growth with attach readers (engine + holder, max - before attach)', params,
          unit: 'bytes', value: max.daemon - base.daemon, bytesPerSec: bytes / guestSec, samples: 1,
          engineGrowth: max.engine - base.engine, holderGrowth: max.holder - base.holder, engineBefore: base.engine, holderBefore: base.holder,
          engineAnonGrowth: max.engineAnon - base.engineAnon, engineShmemGrowth: max.engineShmem - base.engineShmem,
          readersCaughtUpSec: readersSec,
        },
        ...(readers > 0 ? [{
          suite: 'readers', name: 'attach readers not byte-exact (sha256 vs the guest and the port log)', params,
          unit: 'readers', value: differ, samples: readers, logExact: log.digest === want && log.bytes === bytes,
        }] : []),
      ];
    } finally {
      clearInterval(sampler);
    }
  } finally {
    for (const c of clients) c.close();
    await guest.exit();
    await d.close();
  }
}

/** The cases: 0 readers (the write alone), 1 fast, 16 fast, 16 slow. */
export async function runReadersBench({ quick = false, onProgress } = {}) {
  const bytes = (quick ? 16 : 64) * MiB;
  const plan = [{ readers: 0 }, { readers: 1 }, { readers: 16 }, { readers: 16, rate: 2e6 }];
  const out = [];
  for (const [i, c] of plan.entries()) {
    out.push(...await readersCase({ ...c, bytes }));
    onProgress?.(i + 1, plan.length, `${c.readers} ${c.rate ? 'slow' : 'fast'} readers`);
  }
  return out;
}

function row(r) {
  const p = `${r.params.readers} ${r.params.reader} reader(s)`.padEnd(20);
  if (r.unit === 'readers') return `${p} byte-exact: ${r.value === 0 ? 'yes' : `NO (${r.value} differ, log ${r.logExact ? 'exact' : 'differs'})`}`;
  return `${p} RSS growth ${(r.value / MiB).toFixed(1)} MiB (engine ${(r.engineGrowth / MiB).toFixed(1)}: anon ${(r.engineAnonGrowth / MiB).toFixed(1)} shmem ${(r.engineShmemGrowth / MiB).toFixed(1)}, holder ${(r.holderGrowth / MiB).toFixed(1)})  guest ${(r.bytesPerSec / 1e6).toFixed(1)} MB/s  readers done ${r.readersCaughtUpSec.toFixed(1)} s`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string', default: '1' } } });
  for (let run = 1; run <= Number(values.runs); run++) {
    const rows = await runReadersBench({ quick: values.quick, onProgress: (d, t, l) => process.stderr.write(`[${d}/${t}] ${l}\n`) });
    console.log(`run ${run}\n${rows.map(row).join('\n')}\n${JSON.stringify(rows)}`);
  }
}
