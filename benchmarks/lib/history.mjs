// Reading the run history (run-*.json) and finding regressions in it.
//
// Regression rule (stated on the dashboard too): for every case and metric, a run's value is
// compared with the MEDIAN of the same metric in the previous up-to-5 runs that are comparable
// (same CPU model and core count, same --quick flag). A throughput-like metric (higher is better)
// regressed when it is more than NOISE_BAND below that median; a latency-like metric (lower is
// better) when it is more than NOISE_BAND above it. The median of several runs keeps one noisy
// run from flagging (or hiding) the next, and comparing only like machines keeps a laptop run
// from "regressing" against a server run.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { validateRun } from './schema.mjs';

/** Relative drop (or rise, for latency) beyond which a change is called a regression. */
export const NOISE_BAND = 0.15;
/** How many previous comparable runs the reference median is taken over. */
export const REFERENCE_WINDOW = 5;

/**
 * @typedef {import('./schema.mjs').RunRecord} RunRecord
 * @typedef {import('./schema.mjs').CaseResult} CaseResult
 * @typedef {{key: keyof CaseResult | 'ratio', label: string, unit: string, better: 'higher'|'lower'}} MetricSpec
 */

/**
 * Loads every run-*.json in `dir`, oldest first. Invalid files are returned in `invalid` with
 * their errors rather than dropped silently, so the dashboard can list them.
 * @param {string} dir
 * @returns {{runs: (RunRecord & {file: string})[], invalid: {file: string, errors: string[]}[]}}
 */
export function loadHistory(dir) {
  const runs = [];
  const invalid = [];
  if (!existsSync(dir)) return { runs, invalid };
  for (const file of readdirSync(dir).filter((f) => /^run-.*\.json$/.test(f)).sort()) {
    let data;
    try {
      data = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    } catch (e) {
      invalid.push({ file, errors: [`not JSON: ${/** @type {Error} */ (e).message}`] });
      continue;
    }
    const errors = validateRun(data);
    if (errors.length > 0) invalid.push({ file, errors });
    else runs.push({ ...data, file });
  }
  runs.sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
  return { runs, invalid };
}

/**
 * Identity of a case across runs: suite, name and params (sorted), because the same name may be
 * measured at several parameter points.
 * @param {CaseResult} c
 */
export function caseKey(c) {
  const params = Object.keys(c.params).sort().map((k) => `${k}=${c.params[k]}`).join(',');
  return params ? `${c.suite}/${c.name} [${params}]` : `${c.suite}/${c.name}`;
}

/** Units whose larger values are better; anything else given as `value` (bytes, ns) is a cost. */
const HIGHER_IS_BETTER_UNIT = /(\/s|ops|ratio|^x$|×|speedup)/i;

/**
 * The one number a case is tracked by in the history, in order of preference.
 * @param {CaseResult} c
 * @returns {MetricSpec | null}
 */
export function primaryMetric(c) {
  if (c.opsPerSec !== undefined) return { key: 'opsPerSec', label: 'throughput', unit: 'ops/s', better: 'higher' };
  if (c.bytesPerSec !== undefined) return { key: 'bytesPerSec', label: 'throughput', unit: 'bytes/s', better: 'higher' };
  if (c.p99Ns !== undefined) return { key: 'p99Ns', label: 'p99 latency', unit: 'ns', better: 'lower' };
  if (c.meanNs !== undefined) return { key: 'meanNs', label: 'mean time', unit: 'ns', better: 'lower' };
  if (c.value !== undefined) return { key: 'value', label: 'value', unit: c.unit ?? '', better: HIGHER_IS_BETTER_UNIT.test(c.unit ?? '') ? 'higher' : 'lower' };
  return null;
}

/**
 * Metrics watched for regressions: the primary one and, when present, the ratio to the in-run
 * baseline (which is robust to machine load because both sides ran in the same session).
 * @param {CaseResult} c
 * @returns {MetricSpec[]}
 */
export function watchedMetrics(c) {
  const out = [];
  const p = primaryMetric(c);
  if (p) out.push(p);
  if (c.ratio !== undefined) out.push({ key: 'ratio', label: `ratio to ${c.baseline?.name ?? 'baseline'}`, unit: '×', better: 'higher' });
  return out;
}

/** @param {number[]} xs non-empty */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** @param {RunRecord} r */
const comparabilityKey = (r) => `${r.machine.cpuModel}|${r.machine.cores}|${r.quick ? 'quick' : 'full'}`;

/**
 * @typedef {object} HistoryPoint
 * @property {number} run            index into runs
 * @property {number} value
 * @property {number|null} reference  median of previous comparable runs, null if none
 * @property {number|null} threshold  reference × (1 ∓ band): crossing it is a regression
 * @property {boolean} regressed
 *
 * @typedef {object} CaseSeries
 * @property {string} key
 * @property {string} suite
 * @property {string} name
 * @property {Record<string, string|number|boolean>} params
 * @property {MetricSpec} metric
 * @property {HistoryPoint[]} points
 *
 * @typedef {object} Regression
 * @property {string} key
 * @property {MetricSpec} metric
 * @property {number} run
 * @property {string} date
 * @property {string|null} commit
 * @property {number} value
 * @property {number} reference
 * @property {number} change        signed relative change vs reference (−0.3 = 30 % lower)
 */

/**
 * Builds per-case, per-metric series over the history and lists every regression.
 * @param {RunRecord[]} runs  oldest first
 * @param {{band?: number, window?: number}} [opts]
 * @returns {{series: CaseSeries[], regressions: Regression[]}}
 */
export function analyzeHistory(runs, opts = {}) {
  const band = opts.band ?? NOISE_BAND;
  const window = opts.window ?? REFERENCE_WINDOW;
  /** @type {Map<string, CaseSeries & {group: string[]}>} */
  const byKey = new Map();
  runs.forEach((run, runIndex) => {
    for (const c of run.cases) {
      for (const metric of watchedMetrics(c)) {
        const key = metric.key === 'ratio' ? `${caseKey(c)} · ratio` : caseKey(c);
        let s = byKey.get(key);
        if (!s) {
          s = { key, suite: c.suite, name: c.name, params: c.params, metric, points: [], group: [] };
          byKey.set(key, s);
        }
        const value = /** @type {number} */ (c[metric.key]);
        s.points.push({ run: runIndex, value, reference: null, threshold: null, regressed: false });
        s.group.push(comparabilityKey(run));
      }
    }
  });
  /** @type {Regression[]} */
  const regressions = [];
  for (const s of byKey.values()) {
    s.points.forEach((p, i) => {
      const previous = [];
      for (let j = i - 1; j >= 0 && previous.length < window; j--) {
        if (s.group[j] === s.group[i]) previous.push(s.points[j].value);
      }
      if (previous.length === 0) return;
      const ref = median(previous);
      p.reference = ref;
      p.threshold = s.metric.better === 'higher' ? ref * (1 - band) : ref * (1 + band);
      p.regressed = s.metric.better === 'higher' ? p.value < p.threshold : p.value > p.threshold;
      if (p.regressed) {
        const run = runs[p.run];
        regressions.push({ key: s.key, metric: s.metric, run: p.run, date: run.date, commit: run.git.commit, value: p.value, reference: ref, change: ref === 0 ? 0 : (p.value - ref) / ref });
      }
    });
  }
  const series = [...byKey.values()].map(({ group: _group, ...s }) => s);
  series.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  regressions.sort((a, b) => b.run - a.run || a.key.localeCompare(b.key));
  return { series, regressions };
}
