// vtcon's performance targets (developers' guide, "Targets") as data, and how each is read off a
// run's cases. The dashboard draws the thresholds as target lines and lists met / missed / no data.
//
// Matching conventions suites must follow for a target to find its case (see README.md):
//   ring JS/C ratio   suite 'ring', params.payload (or params.bytes) 128|4096, params.batch 64, with ratio + baseline
//   kick→used         a case whose name contains "kick" with p99Ns
//   keystroke RTT     a case whose name contains "keystroke" or "rtt" with p99Ns (params.ports = 256)
//   idle VM memory    a case whose name contains "idle" with value in unit 'bytes/vm'
//   worker scaling    two cases equal but for params.workers 1 and 2 (speedup of the primary metric)
//   fleet ls          suite 'fleet', name "fleet ls CLI", params.vms 1000, p50Ns (the whole CLI process)
//   fleet CPU         suite 'fleet', name "fleet daemon CPU on vs off", value (on ÷ off, per MiB)
//   fleet reported    suite 'fleet': "publish throughput" (ratio to the local log rate), "remote attach latency"
//   worker pool alone suite 'pool' (console/pool-bench.mjs), the same pairing; its own target, as
//                     only there the guests' CPU is out of the measured window
//   readers           suite 'readers' (console/readers-bench.mjs, the real `vtcon serve`): "RSS growth"
//                     in unit 'bytes' with params.readers 16, reader 'slow'; "not byte-exact" in unit
//                     'readers' (0 = every reader's sha256 is the guest's) and logExact
//   real guest        suite 'real-guest' (tools/e2e throughput), params.realGuest, dir 'guest→host',
//                     port 'hvc0' | 'named', readers 0 | 1: throughput with ratio + baseline (QEMU
//                     in-process, same run), daemon CPU as value in unit 's/MiB'

/** @typedef {import('./schema.mjs').CaseResult} CaseResult */

/** JS/C split-ring ratio target by chain payload size, at batch 64. */
export const RING_RATIO_TARGETS = /** @type {const} */ ({ 128: 0.25, 4096: 0.5 });
export const RING_RATIO_BATCH = 64;
export const KICK_TO_USED_P99_NS = 50_000;
export const KEYSTROKE_RTT_P99_NS = 1_000_000;
export const KEYSTROKE_PORTS = 256;
export const IDLE_VM_BYTES = 100 * 1024;
export const IDLE_VM_COUNT = 1000;
export const TWO_WORKER_SPEEDUP = 1.7;
/** Issue 15: `vtcon --nats URL ls` over 1,000 VMs (50 hosts × 20), and daemon CPU per MiB with fleet on ÷ off. */
export const FLEET_LS_NS = 1_000_000_000;
export const FLEET_LS_VMS = 1000;
export const FLEET_CPU_RATIO = 1.3;
/** The suite that measures the worker pool alone (rings filled before the clock starts). */
export const POOL_SUITE = 'pool';
/** Engine killed or upgraded under a running guest: the guest-visible pause, p99. */
export const TAKEOVER_PAUSE_P99_NS = 500_000_000;
/** Issue 14: attach readers on one port of the real daemon (suite 'readers'). */
export const READERS_SUITE = 'readers';
export const READERS_RSS_GROWTH_BYTES = 16 * 1024 * 1024;
export const READERS_SLOW = 16;
/** Real guest (issue 14), vs QEMU's in-process virtio-serial measured in the same run. */
export const REAL_GUEST_TARGETS = /** @type {const} */ ([
  { port: 'hvc0', readers: 1, ratio: 1.2, cpuSPerMiB: 0.015, what: 'hvc0 with a reader attached' },
  { port: 'named', readers: null, ratio: 1.0, cpuSPerMiB: 0.004, what: 'named port' },
]);

/**
 * Chain payload size of a ring case (the ring suite calls it `payload`; `bytes` is accepted too).
 * @param {CaseResult} c
 */
export const payloadBytes = (c) => Number(c.params.payload ?? c.params.bytes);

/**
 * The ring ratio target for a case, or null when no target applies (other sizes or batches).
 * @param {CaseResult} c
 * @returns {number|null}
 */
export function ringRatioTarget(c) {
  if (c.suite !== 'ring' || c.ratio === undefined) return null;
  if (c.params.batch !== undefined && Number(c.params.batch) !== RING_RATIO_BATCH) return null;
  const t = RING_RATIO_TARGETS[/** @type {128|4096} */ (payloadBytes(c))];
  return t ?? null;
}

/**
 * The p99 latency target for a case, or null.
 * @param {CaseResult} c
 * @returns {number|null}
 */
export function latencyTargetNs(c) {
  if (/kick/i.test(c.name)) return KICK_TO_USED_P99_NS;
  if (/keystroke|rtt/i.test(c.name)) return KEYSTROKE_RTT_P99_NS;
  if (/takeover/i.test(c.name)) return TAKEOVER_PAUSE_P99_NS;
  return null;
}

/** @param {CaseResult} c */
const throughputOf = (c) => c.opsPerSec ?? c.bytesPerSec;

/**
 * Groups cases that differ only in params.workers and returns their speedup (max workers / 1).
 * @param {CaseResult[]} cases
 * @returns {{label: string, byWorkers: Map<number, CaseResult>, speedup: number|null}[]}
 */
export function workerGroups(cases) {
  /** @type {Map<string, Map<number, CaseResult>>} */
  const groups = new Map();
  for (const c of cases) {
    if (c.params.workers === undefined || throughputOf(c) === undefined) continue;
    const rest = Object.keys(c.params).filter((k) => k !== 'workers').sort().map((k) => `${k}=${c.params[k]}`).join(',');
    const label = rest ? `${c.suite}/${c.name} [${rest}]` : `${c.suite}/${c.name}`;
    let g = groups.get(label);
    if (!g) groups.set(label, (g = new Map()));
    g.set(Number(c.params.workers), c);
  }
  return [...groups.entries()].map(([label, byWorkers]) => {
    const one = byWorkers.get(1);
    const two = byWorkers.get(2);
    const speedup = one && two ? /** @type {number} */ (throughputOf(two)) / /** @type {number} */ (throughputOf(one)) : null;
    return { label, byWorkers, speedup };
  });
}

/**
 * @typedef {object} TargetStatus
 * @property {string} target       what is promised
 * @property {string} threshold    human-readable threshold
 * @property {string} measured     human-readable measurement(s), '' when none
 * @property {'met'|'missed'|'no data'|'reported'} status
 */

const fmtNs = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`);

/**
 * Evaluates every target against one run's cases.
 * @param {CaseResult[]} cases
 * @returns {TargetStatus[]}
 */
export function evaluateTargets(cases) {
  /** @type {TargetStatus[]} */
  const out = [];
  /** @param {string} target @param {string} threshold @param {{text: string, ok: boolean}[]} ms */
  const push = (target, threshold, ms) => out.push({
    target, threshold, measured: ms.map((m) => m.text).join('; '),
    status: ms.length === 0 ? 'no data' : ms.every((m) => m.ok) ? 'met' : 'missed',
  });
  for (const [bytes, t] of Object.entries(RING_RATIO_TARGETS)) {
    const ms = cases.filter((c) => ringRatioTarget(c) === t && payloadBytes(c) === Number(bytes))
      .map((c) => ({ text: `${c.ratio?.toFixed(3)}× (${c.name})`, ok: /** @type {number} */ (c.ratio) >= t }));
    push(`Ring cross-thread JS/C ratio, ${Number(bytes) === 4096 ? '4 KiB' : '128 B'} chains, batch ${RING_RATIO_BATCH}`, `≥ ${t}×`, ms);
  }
  push('Kick → used latency, p99', `< ${fmtNs(KICK_TO_USED_P99_NS)}`, cases.filter((c) => /kick/i.test(c.name) && c.p99Ns !== undefined)
    .map((c) => ({ text: `${fmtNs(/** @type {number} */ (c.p99Ns))} (${c.name})`, ok: /** @type {number} */ (c.p99Ns) < KICK_TO_USED_P99_NS })));
  push(`Keystroke round trip, p99, ${KEYSTROKE_PORTS} ports`, `< ${fmtNs(KEYSTROKE_RTT_P99_NS)}`, cases.filter((c) => /keystroke|rtt/i.test(c.name) && c.p99Ns !== undefined)
    .map((c) => ({ text: `${fmtNs(/** @type {number} */ (c.p99Ns))} (${c.name}${c.params.ports !== undefined ? `, ${c.params.ports} ports` : ''})`, ok: /** @type {number} */ (c.p99Ns) < KEYSTROKE_RTT_P99_NS })));
  push(`Idle VM memory (${IDLE_VM_COUNT.toLocaleString('en')} idle VMs)`, `< 100 KiB per VM`, cases.filter((c) => /idle/i.test(c.name) && c.value !== undefined && c.unit === 'bytes/vm')
    .map((c) => ({ text: `${(/** @type {number} */ (c.value) / 1024).toFixed(1)} KiB/VM (${c.name})`, ok: /** @type {number} */ (c.value) < IDLE_VM_BYTES })));
  /** @param {CaseResult[]} cs */
  const speedups = (cs) => workerGroups(cs).filter((g) => g.speedup !== null)
    .map((g) => ({ text: `${/** @type {number} */ (g.speedup).toFixed(2)}× (${g.label})`, ok: /** @type {number} */ (g.speedup) >= TWO_WORKER_SPEEDUP }));
  push('Two workers vs one', `≥ ${TWO_WORKER_SPEEDUP}×`, speedups(cases.filter((c) => c.suite !== POOL_SUITE)));
  push('Worker pool alone, 1 → 2 workers (rings filled before the clock)', `≥ ${TWO_WORKER_SPEEDUP}×`, speedups(cases.filter((c) => c.suite === POOL_SUITE)));
  push(`Fleet ls, ${FLEET_LS_VMS.toLocaleString('en')} VMs on 50 hosts (CLI process, p50)`, `< ${fmtNs(FLEET_LS_NS)}`, cases.filter((c) => c.suite === 'fleet' && /fleet ls CLI/i.test(c.name) && Number(c.params.vms) === FLEET_LS_VMS && c.p50Ns !== undefined)
    .map((c) => ({ text: fmtNs(/** @type {number} */ (c.p50Ns)), ok: /** @type {number} */ (c.p50Ns) < FLEET_LS_NS })));
  push('Fleet daemon CPU per MiB, fleet on ÷ off', `< ${FLEET_CPU_RATIO}×`, cases.filter((c) => c.suite === 'fleet' && /CPU on vs off/i.test(c.name) && c.value !== undefined)
    .map((c) => ({ text: `${/** @type {number} */ (c.value).toFixed(2)}×`, ok: /** @type {number} */ (c.value) < FLEET_CPU_RATIO })));
  const pub = cases.filter((c) => c.suite === 'fleet' && /publish throughput/i.test(c.name) && c.bytesPerSec !== undefined);
  out.push({ target: 'Fleet publish throughput per host vs the local log rate', threshold: 'reported', status: pub.length ? 'reported' : 'no data',
    measured: pub.map((c) => `${(/** @type {number} */ (c.bytesPerSec) / 1e6).toFixed(1)} MB/s${c.value !== undefined ? `, ${c.value.toFixed(0)} msgs/s` : ''}${c.ratio !== undefined ? ` (${c.ratio.toFixed(2)}× the log rate)` : ''}`).join('; ') });
  const lat = cases.filter((c) => c.suite === 'fleet' && /remote attach latency/i.test(c.name) && c.p99Ns !== undefined);
  out.push({ target: 'Fleet guest write → remote attach client, p50 / p99', threshold: 'reported', status: lat.length ? 'reported' : 'no data',
    measured: lat.map((c) => `${fmtNs(/** @type {number} */ (c.p50Ns ?? NaN))} / ${fmtNs(/** @type {number} */ (c.p99Ns))}`).join('; ') });
  push('Engine killed under a running guest: guest-visible pause, p99', `< ${fmtNs(TAKEOVER_PAUSE_P99_NS)}`, cases.filter((c) => /takeover/i.test(c.name) && c.p99Ns !== undefined)
    .map((c) => ({ text: `${fmtNs(/** @type {number} */ (c.p99Ns))} (${c.samples ?? '?'} restarts, ${c.params.vms ?? '?'} VMs)`, ok: /** @type {number} */ (c.p99Ns) < TAKEOVER_PAUSE_P99_NS })));
  const readers = cases.filter((c) => c.suite === READERS_SUITE);
  push(`Daemon RSS growth, ${READERS_SLOW} slow readers`, `< ${READERS_RSS_GROWTH_BYTES / 1048576} MiB`, readers
    .filter((c) => /RSS growth/i.test(c.name) && c.unit === 'bytes' && c.value !== undefined && Number(c.params.readers) === READERS_SLOW && c.params.reader === 'slow')
    .map((c) => ({ text: `${(/** @type {number} */ (c.value) / 1048576).toFixed(1)} MiB`, ok: /** @type {number} */ (c.value) < READERS_RSS_GROWTH_BYTES })));
  push('Attach readers byte-exact (sha256 = the guest\'s and the port log\'s), 1 and 16 readers', 'every reader', readers
    .filter((c) => /byte-exact/i.test(c.name) && c.unit === 'readers' && c.value !== undefined)
    .map((c) => ({
      text: `${c.value === 0 ? 'all' : `${c.value} differ of`} ${c.params.readers} ${c.params.reader}${c.logExact === false ? ', log differs' : ''}`,
      ok: c.value === 0 && c.logExact !== false,
    })));
  for (const t of REAL_GUEST_TARGETS) {
    const mine = cases.filter((c) => c.params.realGuest === true && c.params.dir === 'guest→host' && c.params.port === t.port && (t.readers === null || c.params.readers === t.readers));
    push(`Real guest, ${t.what}, vs QEMU in-process`, `≥ ${t.ratio}×`, mine.filter((c) => c.ratio !== undefined)
      .map((c) => ({ text: `${/** @type {number} */ (c.ratio).toFixed(2)}× (${c.name})`, ok: /** @type {number} */ (c.ratio) >= t.ratio })));
    push(`Real guest, ${t.what}, daemon CPU`, `≤ ${t.cpuSPerMiB} s/MiB`, mine.filter((c) => c.unit === 's/MiB' && c.value !== undefined)
      .map((c) => ({ text: `${/** @type {number} */ (c.value).toFixed(4)} s/MiB (${c.name})`, ok: /** @type {number} */ (c.value) <= t.cpuSPerMiB })));
  }
  const real = cases.filter((c) => c.params.realGuest === true || /real.?guest|qemu/i.test(c.name));
  out.push({ target: 'Real-guest throughput (QEMU + Linux guest)', threshold: 'reported', measured: real.map((c) => `${c.name}`).join('; '), status: real.length ? 'reported' : 'no data' });
  return out;
}
