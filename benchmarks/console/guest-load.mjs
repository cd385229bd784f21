// Child process of console-bench.mjs: the guests. Each guest is the seed driver model over a
// real vhost-user frontend (as QEMU would be, in another process), connected to one of the
// daemon's sockets. On 'go' every port floods `bytesPerPort` bytes with pipelined 4 KiB chains.
//
// IPC: parent → {sockets, portsPerGuest, chunk, inflight}; child → {t:'ready'}; parent → 'go';
// child → {t:'done', ns}. Parent → 'exit'. With cfg.trickleMs every port writes `chunk` bytes
// every trickleMs ms from 'go' until 'stop' (background load for latency cases). With cfg.port
// only the port of that name writes; with cfg.random each writing port sends fresh random bytes
// (not the repeating pattern, so a reordered or repeated block changes the hash) and 'done'
// carries {name: sha256} of what it sent (readers-bench.mjs compares readers with it).
import { createHash, randomFillSync } from 'node:crypto';
import { connectGuest } from '@vtcon/console/testing';

const cfg = JSON.parse(process.argv[2]);
const guests = [];
const data = new Uint8Array(cfg.chunk * 64).map((_, i) => (i * 31) & 0xff);

async function waitFor(cond, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('guest-load: timeout waiting for ports');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** sha256 of what each port wrote (cfg.random). */
const sent = {};

async function write(p) {
  const h = cfg.random ? createHash('sha256') : null;
  const piece = cfg.random ? new Uint8Array(data.length) : data;
  for (let off = 0; off < cfg.bytesPerPort; off += piece.length) {
    const b = piece.subarray(0, Math.min(piece.length, cfg.bytesPerPort - off));
    if (h) { randomFillSync(b); h.update(b); }
    await p.write(b);
  }
  if (h) sent[p.name] = h.digest('hex');
}

/**
 * Flood mode: keep `inflight` pre-filled chains of `chunk` bytes posted on the port's transmitq,
 * re-posting each as soon as it is used, without rewriting its contents. The guest then costs
 * little per byte, so the measurement is dominated by the device side (what workers scale).
 * Reaches into the driver model's per-port queues (bench-only).
 */
async function flood(driver, port) {
  const sc = driver.scports[port.id];
  const vq = sc.outvq;
  const bufs = Array.from({ length: cfg.inflight }, () => {
    const a = driver.handle.allocBuffer(cfg.chunk);
    driver.handle.memory.view(a, cfg.chunk).fill(port.id & 0xff);
    return a;
  });
  const chains = Math.ceil(cfg.bytesPerPort / cfg.chunk);
  let posted = 0;
  let used = 0;
  const postedAt = new Map();
  const post = (a) => { postedAt.set(a, process.hrtime.bigint()); vq.queue.addBuffer(a, cfg.chunk, false, a); posted++; };
  for (const a of bufs) if (posted < chains) post(a);
  if (vq.queue.kickPrepare()) vq.kick();
  while (used < chains) {
    let got = 0;
    for (;;) {
      const u = vq.queue.getUsed();
      if (u === null) break;
      const t0 = postedAt.get(u.token);
      if (t0 !== undefined && lat.length < 200_000) lat.push(Number(process.hrtime.bigint() - t0));
      used++; got++;
      if (posted < chains) post(u.token);
    }
    if (got > 0) { if (vq.queue.kickPrepare()) vq.kick(); continue; }
    if (vq.queue.enableCallbacks()) continue;
    await new Promise((resolve) => { const w = vq.watchCall(() => { w.stop(); resolve(); }); });
  }
}

/**
 * Kick mode: one chain of `chunk` bytes posted and kicked at a time; the time from just before
 * the kick to the guest seeing the used entry is recorded per chain, either spinning on the used
 * ring (cfg.spin, the seed's transmit path) or woken by the call eventfd (an interrupt-driven
 * driver, which adds the guest's own wake-up). `cfg.kicks` chains, after `cfg.warmup`.
 */
async function kickLatency(driver, port) {
  const vq = driver.scports[port.id].outvq;
  const a = driver.handle.allocBuffer(cfg.chunk);
  driver.handle.memory.view(a, cfg.chunk).fill(0x6b);
  const out = [];
  for (let i = 0; i < cfg.warmup + cfg.kicks; i++) {
    vq.queue.addBuffer(a, cfg.chunk, false, a);
    const t0 = process.hrtime.bigint();
    if (vq.queue.kickPrepare()) vq.kick();
    // cfg.spin: busy-poll the used ring like the seed's vtcon_port_out (virtqueue_poll), for up
    // to 5 ms, so the time is when the entry became visible, not when the guest was woken.
    if (cfg.spin) {
      const end = t0 + 5_000_000n;
      while (vq.queue.getUsed() === null) {
        if (process.hrtime.bigint() > end) { await waitUsedIntr(vq); break; }
      }
    } else {
      await waitUsedIntr(vq);
    }
    if (i >= cfg.warmup) out.push(Number(process.hrtime.bigint() - t0));
    // A short gap, so each kick finds the device idle (latency, not throughput).
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** Wait for one used entry, woken by the call eventfd (interrupt-driven). */
async function waitUsedIntr(vq) {
  for (;;) {
    if (vq.queue.getUsed() !== null) return;
    if (vq.queue.enableCallbacks()) continue;
      await new Promise((resolve) => { const w = vq.watchCall(() => { w.stop(); resolve(); }); });
  }
}

/** Trickle mode: every port writes `chunk` bytes every `trickleMs` until 'stop' (background load). */
let trickling = true;
/** Flood mode: ns from posting a chain (then kick) to seeing it used, per chain. */
const lat = [];
async function trickle(p) {
  const piece = data.subarray(0, cfg.chunk);
  await new Promise((r) => setTimeout(r, Math.random() * cfg.trickleMs));
  while (trickling) {
    await p.write(piece);
    await new Promise((r) => setTimeout(r, cfg.trickleMs));
  }
}

async function main() {
  for (const path of cfg.sockets) {
    // Region 0 holds the buffers: 32 chains of `chunk` bytes per port plus the 128-byte rx buffers.
    const bufBytes = cfg.portsPerGuest * (cfg.inflight * cfg.chunk + 64 * 1024) + (4 << 20);
    // cfg.shell: a SimulatedGuest (echoing shell) on each guest, for keystroke round trips.
    // cfg.memory: explicit region sizes (idle VMs use small ones: 1 MiB buffers + 1 MiB rings).
    const memory = cfg.memory ?? [Math.max(16 << 20, bufBytes), 8 << 20];
    // cfg.driverMaxPorts: the guest takes that many ports (a Linux guest's cap, not the seed's 32).
    const { driver } = await connectGuest(path, { txChunk: cfg.chunk, txInflight: cfg.inflight, frontend: { memory }, ...(cfg.driverMaxPorts ? { maxPorts: cfg.driverMaxPorts } : {}), ...(cfg.shell ? { shell: { hostname: 'bench' } } : {}) });
    guests.push(driver);
  }
  await waitFor(() => guests.every((d) => d.ports.length === cfg.portsPerGuest && d.ports.every((p) => p.name !== null)));
  for (const d of guests) for (const p of d.ports) if (!p.console) await p.open();
  process.send({ t: 'ready' });
  process.on('message', async (m) => {
    if (m === 'go' && cfg.trickleMs) {
      await Promise.all(guests.flatMap((d) => d.ports.map((p) => trickle(p))));
      process.send({ t: 'stopped' });
    } else if (m === 'stop') {
      trickling = false;
    } else if (m === 'go' && cfg.kicks) {
      const all = (await Promise.all(guests.map((d) => kickLatency(d, d.ports[0])))).flat().sort((a, b) => a - b);
      const pct = (p) => all[Math.min(all.length - 1, Math.floor(all.length * p))] ?? 0;
      process.send({ t: 'done', p50Ns: pct(0.5), p99Ns: pct(0.99), meanNs: all.reduce((x, y) => x + y, 0) / all.length, samples: all.length });
    } else if (m === 'go') {
      const t0 = process.hrtime.bigint();
      const writing = (p) => cfg.port === undefined || p.name === cfg.port;
      await Promise.all(guests.flatMap((d) => d.ports.filter(writing).map((p) => (cfg.flood ? flood(d, p) : write(p)))));
      lat.sort((a, b) => a - b);
      const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
      process.send({ t: 'done', ns: Number(process.hrtime.bigint() - t0), usedP50Ns: pct(0.5), usedP99Ns: pct(0.99), chains: lat.length, sent });
    } else if (m === 'exit') {
      for (const d of guests) await d.detach().catch(() => {});
      process.exit(0);
    }
  });
}
main().catch((e) => { console.error(e); process.exit(1); });
