// Turns the run history into the dashboard's model: a list of chart specs (plain JSON Chart.js
// configs, so the page needs no build step and tests can inspect them) plus the regression list,
// target table and run table. Pure: no file or browser access, so it is unit-testable.
import { analyzeHistory, NOISE_BAND, REFERENCE_WINDOW } from '../lib/history.mjs';
import { evaluateTargets, latencyTargetNs, ringRatioTarget, workerGroups, TWO_WORKER_SPEEDUP, RING_RATIO_BATCH } from '../lib/targets.mjs';

/**
 * @typedef {import('../lib/schema.mjs').RunRecord} RunRecord
 * @typedef {import('../lib/schema.mjs').CaseResult} CaseResult
 *
 * @typedef {object} ChartSpec
 * @property {string} id
 * @property {string} title
 * @property {string} description   what is plotted, units, where the data comes from
 * @property {string|null} empty    why nothing is drawn (shown on the page instead of a chart)
 * @property {object|null} config   Chart.js config (JSON only); datasets with `vtconRole: 'target'|'band'` are reference lines, not data
 * @property {boolean} [small]      history small multiple
 * @property {boolean} [regressed]  history chart whose latest point regressed
 */

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22', '#d62728'];
const TARGET_COLOR = '#d62728';
const OK_COLOR = '#2ca02c';
const MISS_COLOR = '#d62728';
const NEUTRAL_COLOR = '#7f7f7f';

/** @param {RunRecord} r */
export function runLabel(r) {
  const commit = r.git.commit ? ` ${r.git.commit.slice(0, 7)}${r.git.dirty ? '*' : ''}` : '';
  return `${r.date.slice(0, 16).replace('T', ' ')}${commit}`;
}

/**
 * Picks a display unit so axis numbers stay short (e.g. 2.4e9 bytes/s → 2400 MB/s).
 * @param {number[]} values
 * @param {string} unit  'ops/s' | 'bytes/s' | 'ns' | other
 * @returns {{factor: number, unit: string}}
 */
export function displayUnit(values, unit) {
  const max = Math.max(0, ...values.filter((v) => Number.isFinite(v)));
  if (unit === 'bytes/s') return max >= 1e9 ? { factor: 1e-9, unit: 'GB/s' } : max >= 1e6 ? { factor: 1e-6, unit: 'MB/s' } : { factor: 1e-3, unit: 'kB/s' };
  if (unit === 'ops/s') return max >= 1e6 ? { factor: 1e-6, unit: 'M ops/s' } : max >= 1e3 ? { factor: 1e-3, unit: 'k ops/s' } : { factor: 1, unit: 'ops/s' };
  if (unit === 'ns') return max >= 1e6 ? { factor: 1e-6, unit: 'ms' } : max >= 1e3 ? { factor: 1e-3, unit: 'µs' } : { factor: 1, unit: 'ns' };
  if (unit === 'bytes' || unit === 'bytes/vm') return max >= 1 << 20 ? { factor: 1 / (1 << 20), unit: unit.replace('bytes', 'MiB') } : { factor: 1 / 1024, unit: unit.replace('bytes', 'KiB') };
  return { factor: 1, unit };
}

/**
 * Category labels for a set of cases: "suite/name", then on a second line (Chart.js draws an array
 * as lines) only the params that tell the cases apart. Params equal in every case are returned in
 * `common` for the chart description, and a param whose value is already spelled in the name
 * ("…/batch64" for batch=64) is not repeated, so labels stay short enough to leave room for bars.
 * @param {CaseResult[]} cases
 * @returns {{labels: (string|string[])[], common: string}}
 */
export function caseLabels(cases) {
  const keys = [...new Set(cases.flatMap((c) => Object.keys(c.params)))].sort();
  const constant = keys.filter((k) => cases.every((c) => c.params[k] === cases[0].params[k]));
  const inName = (c, k) => new RegExp(`(^|[^0-9A-Za-z])${String(c.params[k]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^0-9]|$)`).test(c.name.replace(new RegExp(k, 'gi'), '/'));
  const labels = cases.map((c) => {
    const shown = keys.filter((k) => c.params[k] !== undefined && !(cases.length > 1 && constant.includes(k)) && !inName(c, k));
    const params = shown.map((k) => `${k}=${c.params[k]}`).join(' ');
    return params ? [`${c.suite}/${c.name}`, params] : `${c.suite}/${c.name}`;
  });
  const common = cases.length > 1 ? constant.map((k) => `${k}=${cases[0].params[k]}`).join(', ') : '';
  return { labels, common };
}

const round = (v) => (v === null ? null : Number(v.toPrecision(4)));

/**
 * The newest run having at least one case accepted by `pick` (a partial `--suite` run should not
 * blank charts whose suites it skipped).
 * @param {RunRecord[]} runs
 * @param {(c: CaseResult) => boolean} pick
 * @returns {{run: RunRecord, cases: CaseResult[]} | null}
 */
function newestWith(runs, pick) {
  for (let i = runs.length - 1; i >= 0; i--) {
    const cases = runs[i].cases.filter(pick);
    if (cases.length > 0) return { run: runs[i], cases };
  }
  return null;
}

/** Throughput metric shared by a set of cases: bytes/s when all have it, else ops/s. */
function throughputMetric(cases) {
  if (cases.every((c) => c.bytesPerSec !== undefined)) return { key: 'bytesPerSec', unit: 'bytes/s' };
  return { key: 'opsPerSec', unit: 'ops/s' };
}

/**
 * Line chart of throughput against a numeric parameter, one line per remaining-parameter group.
 * @param {RunRecord[]} runs
 * @param {'guests'|'ports'} param
 * @returns {ChartSpec}
 */
function throughputVs(runs, param) {
  const id = `throughput-${param}`;
  const title = `Throughput vs ${param}`;
  const found = newestWith(runs, (c) => typeof c.params[param] === 'number' && (c.opsPerSec !== undefined || c.bytesPerSec !== undefined));
  if (!found) return { id, title, description: `Cases with a numeric params.${param} and a throughput.`, empty: `No data: no run has a case with params.${param} and opsPerSec/bytesPerSec.`, config: null };
  const m = throughputMetric(found.cases);
  const cases = found.cases.filter((c) => c[m.key] !== undefined);
  const du = displayUnit(cases.map((c) => /** @type {number} */ (c[m.key])), m.unit);
  /** @type {Map<string, {x: number, y: number}[]>} */
  const lines = new Map();
  for (const c of cases) {
    const rest = Object.keys(c.params).filter((k) => k !== param).sort().map((k) => `${k}=${c.params[k]}`).join(', ');
    const label = `${c.suite}/${c.name}${rest ? ` (${rest})` : ''}`;
    if (!lines.has(label)) lines.set(label, []);
    lines.get(label)?.push({ x: Number(c.params[param]), y: round(/** @type {number} */ (c[m.key]) * du.factor) });
  }
  // A line needs two x values; a case measured at one point only belongs to another chart.
  const curves = [...lines.entries()].filter(([, data]) => new Set(data.map((p) => p.x)).size >= 2);
  if (curves.length === 0) return { id, title, description: `Cases measured at several values of params.${param}.`, empty: `No data: no case in run ${runLabel(found.run)} was measured at two or more values of params.${param}.`, config: null };
  const datasets = curves.map(([label, data], i) => ({
    label, data: data.sort((a, b) => a.x - b.x), borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], tension: 0, pointRadius: 4,
  }));
  return {
    id, title, empty: null,
    description: `Run ${runLabel(found.run)}. Each line is one case; x = params.${param}, y = ${m.key} in ${du.unit}.`,
    config: {
      type: 'line', data: { datasets },
      options: { scales: { x: { type: 'linear', title: { display: true, text: param === 'guests' ? 'guests (VMs)' : 'console ports' } }, y: { beginAtZero: true, title: { display: true, text: `throughput (${du.unit})` } } } },
    },
  };
}

/** @param {RunRecord[]} runs @returns {ChartSpec} */
function workersChart(runs) {
  const id = 'workers';
  const title = '1 vs 2 workers';
  const found = newestWith(runs, (c) => c.params.workers !== undefined && (c.opsPerSec !== undefined || c.bytesPerSec !== undefined));
  const groups = found ? workerGroups(found.cases) : [];
  if (!found || groups.length === 0) return { id, title, description: 'Cases measured with params.workers = 1 and 2.', empty: 'No data: no run has a case with params.workers.', config: null };
  const m = throughputMetric(found.cases);
  const counts = [...new Set(groups.flatMap((g) => [...g.byWorkers.keys()]))].sort((a, b) => a - b);
  const du = displayUnit(found.cases.map((c) => c[m.key] ?? 0), m.unit);
  const labels = groups.map((g) => (g.speedup !== null ? `${g.label} — ×${g.speedup.toFixed(2)}` : g.label));
  const datasets = counts.map((w, i) => ({
    label: `${w} worker${w === 1 ? '' : 's'}`,
    data: groups.map((g) => { const c = g.byWorkers.get(w); return c && c[m.key] !== undefined ? round(/** @type {number} */ (c[m.key]) * du.factor) : null; }),
    backgroundColor: PALETTE[i % PALETTE.length],
  }));
  return {
    id, title, empty: null,
    description: `Run ${runLabel(found.run)}. Bars: ${m.key} in ${du.unit} per worker count; the label gives the 2-worker / 1-worker speedup (target ≥ ${TWO_WORKER_SPEEDUP}×).`,
    config: { type: 'bar', data: { labels, datasets }, options: { scales: { x: { title: { display: true, text: 'case (speedup 2 vs 1 worker)' } }, y: { beginAtZero: true, title: { display: true, text: `throughput (${du.unit})` } } } } },
  };
}

/** @param {RunRecord[]} runs @returns {ChartSpec} */
function ratioChart(runs) {
  const id = 'ratio';
  const title = 'JS / C ratio per case';
  const found = newestWith(runs, (c) => c.ratio !== undefined);
  if (!found) return { id, title, description: 'Cases with a baseline measured in the same run.', empty: 'No data: no run has a case with a baseline ratio.', config: null };
  const cases = found.cases;
  const { labels, common } = caseLabels(cases);
  const targets = cases.map((c) => ringRatioTarget(c));
  const colors = cases.map((c, i) => (targets[i] === null ? NEUTRAL_COLOR : /** @type {number} */ (c.ratio) >= /** @type {number} */ (targets[i]) ? OK_COLOR : MISS_COLOR));
  return {
    id, title, empty: null,
    description: `Run ${runLabel(found.run)}${common ? ` (all cases: ${common})` : ''}. Bar = JS ops/s ÷ baseline ops/s (both measured in this run). Red dashes = target (≥ 0.25× at 128 B, ≥ 0.5× at 4 KiB, batch ${RING_RATIO_BATCH}); green bar meets it, red misses, grey has no target.`,
    config: {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'JS / baseline', data: cases.map((c) => round(/** @type {number} */ (c.ratio))), backgroundColor: colors, order: 2 },
          { label: 'target', vtconRole: 'target', type: 'line', data: targets, showLine: false, pointStyle: 'line', pointRadius: 22, pointBorderWidth: 3, borderColor: TARGET_COLOR, backgroundColor: TARGET_COLOR, order: 1 },
        ],
      },
      options: { scales: { x: { title: { display: true, text: 'case' } }, y: { beginAtZero: true, title: { display: true, text: 'ratio (×, higher is better)' } } } },
    },
  };
}

/** @param {RunRecord[]} runs @returns {ChartSpec} */
function latencyChart(runs) {
  const id = 'latency';
  const title = 'Latency distribution (p50 / p99)';
  const found = newestWith(runs, (c) => c.p50Ns !== undefined || c.p99Ns !== undefined);
  if (!found) return { id, title, description: 'Cases with p50Ns/p99Ns.', empty: 'No data: no run has a case with p50Ns or p99Ns.', config: null };
  const cases = found.cases;
  const { labels, common } = caseLabels(cases);
  const us = (ns) => (ns === undefined ? null : round(ns / 1000));
  const targets = cases.map((c) => { const t = latencyTargetNs(c); return t === null ? null : t / 1000; });
  const datasets = [
    { label: 'p50', data: cases.map((c) => us(c.p50Ns)), backgroundColor: PALETTE[0] },
    { label: 'p99', data: cases.map((c) => us(c.p99Ns)), backgroundColor: PALETTE[1] },
  ];
  if (targets.some((t) => t !== null)) datasets.push(/** @type {any} */ ({ label: 'p99 target', vtconRole: 'target', type: 'line', data: targets, showLine: false, pointStyle: 'line', pointRadius: 22, pointBorderWidth: 3, borderColor: TARGET_COLOR, backgroundColor: TARGET_COLOR }));
  return {
    id, title, empty: null,
    description: `Run ${runLabel(found.run)}${common ? ` (all cases: ${common})` : ''}. Bars: p50 and p99 per case in µs, logarithmic axis. Red dashes = p99 target (kick→used < 50 µs, keystroke RTT < 1 ms).`,
    config: { type: 'bar', data: { labels, datasets }, options: { scales: { x: { title: { display: true, text: 'case' } }, y: { type: 'logarithmic', title: { display: true, text: 'latency (µs, log scale, lower is better)' } } } } },
  };
}

/**
 * One small chart per case and metric: its value over all runs, the regression threshold and
 * red points where it regressed.
 * @param {RunRecord[]} runs
 * @param {import('../lib/history.mjs').CaseSeries[]} series
 * @returns {ChartSpec[]}
 */
function historyCharts(runs, series) {
  // Short x labels (month-day and commit) keep the small charts' plot area usable; the run table
  // and tooltips give the full date.
  const labels = runs.map((r) => `${r.date.slice(5, 10)} ${r.git.commit ? r.git.commit.slice(0, 7) + (r.git.dirty ? '*' : '') : r.date.slice(11, 16)}`);
  return series.map((s, i) => {
    const du = displayUnit(s.points.map((p) => p.value), s.metric.unit);
    const values = labels.map(() => /** @type {number|null} */ (null));
    const thresholds = labels.map(() => /** @type {number|null} */ (null));
    const colors = labels.map(() => PALETTE[0]);
    const radius = labels.map(() => 3);
    for (const p of s.points) {
      values[p.run] = round(p.value * du.factor);
      thresholds[p.run] = p.threshold === null ? null : round(p.threshold * du.factor);
      if (p.regressed) { colors[p.run] = MISS_COLOR; radius[p.run] = 7; }
    }
    const last = s.points[s.points.length - 1];
    return {
      id: `history-${i}`, small: true, regressed: last.regressed && last.run === runs.length - 1,
      title: s.key, empty: null,
      description: `${s.metric.label} (${du.unit}, ${s.metric.better} is better)`,
      config: {
        type: 'line',
        data: {
          labels,
          datasets: [
            { label: s.metric.label, data: values, borderColor: PALETTE[0], backgroundColor: colors, pointBackgroundColor: colors, pointBorderColor: colors, pointRadius: radius, spanGaps: true, tension: 0 },
            { label: `threshold (median ${s.metric.better === 'higher' ? '−' : '+'}${NOISE_BAND * 100}%)`, vtconRole: 'band', data: thresholds, borderColor: '#999', borderDash: [4, 4], pointRadius: 0, spanGaps: true, fill: false },
          ],
        },
        options: { scales: { x: { ticks: { maxRotation: 45, font: { size: 10 } }, title: { display: true, text: 'run (month-day, commit)' } }, y: { title: { display: true, text: du.unit } } }, plugins: { legend: { labels: { boxWidth: 12, font: { size: 11 } } } } },
      },
    };
  });
}

/**
 * @param {RunRecord[]} runs  oldest first
 * @param {{invalid?: {file: string, errors: string[]}[], generatedAt?: string}} [extra]
 */
export function buildModel(runs, extra = {}) {
  const { series, regressions } = analyzeHistory(runs);
  const latest = runs[runs.length - 1] ?? null;
  const charts = [
    throughputVs(runs, 'guests'),
    throughputVs(runs, 'ports'),
    workersChart(runs),
    ratioChart(runs),
    latencyChart(runs),
  ];
  return {
    generatedAt: extra.generatedAt ?? new Date().toISOString(),
    noiseBand: NOISE_BAND,
    referenceWindow: REFERENCE_WINDOW,
    charts,
    // Charts whose newest point regressed come first, so they are seen without scrolling.
    history: runs.length === 0 ? [] : historyCharts(runs, series).sort((a, b) => Number(b.regressed) - Number(a.regressed)),
    regressions: regressions.map((r) => ({ ...r, runLabel: runLabel(runs[r.run]), latest: r.run === runs.length - 1 })),
    targets: latest ? evaluateTargets(mergeNewestPerSuite(runs)) : [],
    runs: runs.map((r) => ({
      label: runLabel(r), file: /** @type {any} */ (r).file ?? '', date: r.date, quick: r.quick, node: r.node, commit: r.git.commit, dirty: r.git.dirty,
      machine: `${r.machine.cpuModel}, ${r.machine.cores} cores, ${(r.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
      suites: r.suites.map((s) => ({ name: s.name, status: s.status, error: s.error ?? '' })), cases: r.cases.length,
    })).reverse(),
    invalid: extra.invalid ?? [],
  };
}

/**
 * Cases of the newest run of each suite: targets are judged on the latest numbers each suite
 * has produced, even when the very last run was a partial `--suite` run.
 * @param {RunRecord[]} runs
 * @returns {CaseResult[]}
 */
export function mergeNewestPerSuite(runs) {
  /** @type {Map<string, CaseResult[]>} */
  const bySuite = new Map();
  for (let i = runs.length - 1; i >= 0; i--) {
    const suites = new Set(runs[i].cases.map((c) => c.suite));
    for (const s of suites) if (!bySuite.has(s)) bySuite.set(s, runs[i].cases.filter((c) => c.suite === s));
  }
  return [...bySuite.values()].flat();
}
