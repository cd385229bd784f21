// The fleet suite (issue 15): what NATS JetStream costs a host and what an operator waits for.
//   - local log rate: a guest writing as fast as the device takes it, bytes landing in the port
//     log (fleet on, NATS up): the rate the publisher has to keep up with.
//   - publish throughput per host: the same daemon catching up a backlog written while NATS was
//     down, measured on the stream's own timestamps (first to last message): the publisher's
//     capacity, MB/s and messages/s; ratio to the local log rate.
//   - guest write → remote attach client: a line written by the guest until an ordered consumer
//     (what `vtcon --nats URL attach` reads) gets it; p50/p99.
//   - daemon CPU per MiB with fleet mode on vs off (target < 1.3×), the same write with the
//     stream caught up.
//   - fleet `ls` over 50 hosts × 20 VMs (target < 1 s), see ls-1000.mjs.
import { measureFleetLs } from './ls-1000.mjs';
import { DATA_PORT, cliModule, dataPort, nats, sleep, startDaemon, startNats, streamedBytes, waitUntil } from './fleet-rig.mjs';

const MiB = 1024 * 1024;
const STREAM = 'VTCON_OUT';

/** Writes `bytes` in 4 KiB chains as fast as the device acknowledges them; resolves when the log holds them. */
async function writeAndLog(d, guest, bytes) {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const start = d.logSize();
  for (let sent = 0; sent < bytes; sent += chunk.length) await guest.write(chunk);
  await waitUntil(() => d.logSize() >= start + bytes, 'the log to hold every byte');
}

/** Daemon CPU ms per MiB written, until the log (and with fleet, the stream) holds every byte. */
async function cpuPerMiB({ natsUrl, bytes, jsm, host }) {
  const d = await startDaemon({ natsUrl, host });
  const guest = await dataPort(d.socket);
  try {
    await writeAndLog(d, guest, 1 * MiB); // warm-up: JIT, the publisher's first resume
    const subject = (await cliModule('fleet/names.js')).outSubject(d.host, d.vm, DATA_PORT);
    if (jsm) await waitUntil(async () => (await streamedBytes(jsm, STREAM, subject)) >= d.logSize(), 'warm-up in the stream');
    const cpu0 = d.cpuMs();
    const t0 = performance.now();
    await writeAndLog(d, guest, bytes);
    const logMs = performance.now() - t0;
    if (jsm) await waitUntil(async () => (await streamedBytes(jsm, STREAM, subject)) >= d.logSize(), 'the stream to catch up', 120_000);
    const cpu = d.cpuMs() - cpu0;
    return { d, guest, subject, cpuMsPerMiB: cpu / (bytes / MiB), logBytesPerSec: bytes / (logMs / 1000) };
  } catch (e) {
    await guest.close().catch(() => undefined);
    await d.close();
    throw e;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The stream's own timestamps of the subject's messages after `fromSeq`: bytes and messages per second. */
async function streamRate(jsm, subject, fromSeq) {
  let first = null;
  let last = null;
  let msgs = 0;
  let bytes = 0;
  for (let seq = fromSeq; ; ) {
    const m = await jsm.streams.getMessage(STREAM, { next_by_subj: subject, seq }).catch(() => null);
    if (!m) break;
    const t = m.timestamp ? Date.parse(m.timestamp) : Number(m.info?.timestampNanos ?? 0) / 1e6;
    if (first === null) first = t; else { msgs++; bytes += m.data.length; }
    last = t;
    seq = m.seq + 1;
  }
  const s = ((last ?? 0) - (first ?? 0)) / 1000;
  return { msgs, bytes, seconds: s, bytesPerSec: s > 0 ? bytes / s : 0, msgsPerSec: s > 0 ? msgs / s : 0 };
}

export async function runFleetBench({ quick = false, onProgress } = {}) {
  const progress = (i, label) => onProgress?.(i, 5, label);
  const bytes = (quick ? 8 : 32) * MiB;
  const server = await startNats();
  const { connect } = await nats.core();
  const { jetstreamManager } = await nats.js();
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const cases = [];
  try {
    // Off and on alternate (the machine's load drifts); the medians are compared. The last "on"
    // daemon stays up for the cases below.
    const rounds = quick ? 1 : 3;
    const offs = [];
    const ons = [];
    let on = null;
    for (let r = 0; r < rounds; r++) {
      progress(0, `daemon CPU, fleet off (${r + 1}/${rounds})`);
      const off = await cpuPerMiB({ bytes });
      offs.push(off.cpuMsPerMiB);
      await off.guest.close();
      await off.d.close();
      progress(1, `daemon CPU, fleet on (${r + 1}/${rounds})`);
      if (on) { await on.guest.close(); await on.d.close(); }
      on = await cpuPerMiB({ natsUrl: server.url, bytes, jsm, host: `bench${r + 1}` });
      ons.push(on.cpuMsPerMiB);
    }
    const offMs = median(offs);
    const onMs = median(ons);
    cases.push(
      { name: 'fleet daemon CPU per MiB', params: { fleet: false }, value: offMs, unit: 'cpu-ms/MiB', samples: rounds },
      { name: 'fleet daemon CPU per MiB', params: { fleet: true }, value: onMs, unit: 'cpu-ms/MiB', samples: rounds },
      { name: 'fleet daemon CPU on vs off', params: {}, value: onMs / offMs, unit: 'CPU on÷off', samples: rounds },
    );

    // Publish capacity: a backlog written while NATS is down, caught up once it is back.
    progress(2, 'publish throughput (catch-up)');
    const info = await jsm.streams.info(STREAM);
    const fromSeq = info.state.last_seq + 1;
    await nc.close();
    await server.stop();
    await writeAndLog(on.d, on.guest, bytes);
    await server.start();
    const nc2 = await connect({ servers: server.url });
    const jsm2 = await jetstreamManager(nc2);
    await waitUntil(async () => (await streamedBytes(jsm2, STREAM, on.subject)) >= on.d.logSize(), 'the catch-up', 120_000);
    const rate = await streamRate(jsm2, on.subject, fromSeq);
    cases.push(
      { name: 'fleet local log rate', params: {}, bytesPerSec: on.logBytesPerSec },
      { name: 'fleet publish throughput per host', params: {}, bytesPerSec: rate.bytesPerSec, value: rate.msgsPerSec, unit: 'msgs/s',
        baseline: { name: 'local log rate (bytes/s)', opsPerSec: on.logBytesPerSec }, ratio: rate.bytesPerSec / on.logBytesPerSec },
    );

    // Guest write → remote attach client.
    progress(3, 'guest write → remote attach latency');
    const { readOutput } = await cliModule('fleet/output-reader.js');
    const ac = new AbortController();
    const seen = new Map();
    const reader = (async () => {
      for await (const c of readOutput(nc2, STREAM, on.subject, { newOnly: true, follow: true, signal: ac.signal })) {
        const now = performance.now();
        for (const m of Buffer.from(c.data).toString('latin1').matchAll(/<m(\d+)>/g)) if (!seen.has(Number(m[1]))) seen.set(Number(m[1]), now);
      }
    })();
    await sleep(500);
    const samples = quick ? 40 : 200;
    const sentAt = [];
    for (let i = 0; i < samples; i++) {
      sentAt[i] = performance.now();
      await on.guest.write(Buffer.from(`<m${i}>\n`));
      await sleep(25 + (i % 7) * 5); // not in step with the publisher's poll
    }
    await waitUntil(() => seen.size >= samples, 'every marker at the remote reader', 30_000);
    ac.abort();
    await reader.catch(() => undefined);
    const lat = sentAt.map((t, i) => (seen.get(i) - t) * 1e6).sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    cases.push({ name: 'fleet guest write to remote attach latency', params: {}, p50Ns: pct(0.5), p99Ns: pct(0.99), meanNs: lat.reduce((a, b) => a + b, 0) / lat.length, samples });
    await nc2.close();
    await on.guest.close();
    await on.d.close();

    progress(4, 'fleet ls, 50 hosts × 20 VMs');
    const ls = await measureFleetLs({ natsUrl: server.url, runs: quick ? 5 : 10 });
    cases.push(
      { name: 'fleet ls CLI', params: { hosts: ls.hosts, vms: ls.vms }, p50Ns: ls.cliLsMs.p50 * 1e6, p99Ns: ls.cliLsMs.max * 1e6, samples: ls.runs },
      { name: 'fleet ls inventory read', params: { hosts: ls.hosts, vms: ls.vms }, p50Ns: ls.inventoryReadMs.p50 * 1e6, p99Ns: ls.inventoryReadMs.max * 1e6, samples: ls.runs },
      { name: 'fleet CLI startup (--version)', params: {}, p50Ns: ls.cliStartupMs.p50 * 1e6, p99Ns: ls.cliStartupMs.max * 1e6, samples: ls.runs },
    );
    progress(5, 'done');
  } finally {
    await nc.close().catch(() => undefined);
    await server.close();
  }
  return cases;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runFleetBench({ quick: process.argv.includes('--quick') }), null, 1));
  process.exit(0);
}
