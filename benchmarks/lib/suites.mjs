// Loading and running benchmark suites. A suite is a module exporting an async function
// `({quick, onProgress}) => CaseResult[]`. A suite whose module does not exist yet, or lacks the
// export, is "not-available"; one that fails to import or throws is "failed". Both are recorded
// in the run and reported loudly: a missing suite must never look like a passing one.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateCase } from './schema.mjs';

/**
 * @typedef {object} SuiteEntry
 * @property {string} name        short name used by --suite and in results ('ring')
 * @property {string} module      path relative to benchmarks/ ('ring/ring-bench.mjs')
 * @property {string} exportName  the async function to call ('runRingBench')
 *
 * @typedef {import('./schema.mjs').CaseResult} CaseResult
 * @typedef {import('./schema.mjs').SuiteStatus} SuiteStatus
 * @typedef {import('./progress.mjs').Reporter} Reporter
 */

/**
 * Fills in what the runner can derive (ratio from the in-run baseline, the suite name) and drops
 * undefined fields so the JSON is stable.
 * @param {any} c
 * @param {string} suite
 * @returns {any}
 */
export function normalizeCase(c, suite) {
  if (c === null || typeof c !== 'object') return c;
  const out = { ...c, suite: c.suite ?? suite, params: c.params ?? {} };
  if (out.ratio === undefined && out.baseline?.opsPerSec > 0 && typeof out.opsPerSec === 'number') {
    out.ratio = out.opsPerSec / out.baseline.opsPerSec;
  }
  return JSON.parse(JSON.stringify(out));
}

/**
 * Runs the given suites in order.
 * @param {SuiteEntry[]} entries
 * @param {{quick: boolean, root: string, reporter: Reporter}} opts  root: the benchmarks/ folder
 * @returns {Promise<{suites: SuiteStatus[], cases: CaseResult[]}>}
 */
export async function runSuites(entries, { quick, root, reporter }) {
  /** @type {SuiteStatus[]} */
  const suites = [];
  /** @type {CaseResult[]} */
  const cases = [];
  for (const [index, entry] of entries.entries()) {
    reporter.suiteStart(entry.name, index, entries.length);
    const t0 = performance.now();
    /** @param {'ok'|'not-available'|'failed'} status @param {string} [error] @param {number} [n] */
    const finish = (status, error, n = 0) => {
      const s = { name: entry.name, status, durationMs: Math.round(performance.now() - t0), cases: n, ...(error ? { error } : {}) };
      suites.push(s);
      reporter.suiteEnd(entry.name, status, error ?? `${n} cases in ${(s.durationMs / 1000).toFixed(1)} s`);
      if (status !== 'ok') reporter.log(`!!! SUITE ${entry.name.toUpperCase()} ${status.toUpperCase()}: ${error}`);
    };
    const file = path.join(root, entry.module);
    if (!existsSync(file)) { finish('not-available', `${entry.module} does not exist`); continue; }
    let fn;
    try {
      const mod = await import(pathToFileURL(file).href);
      fn = mod[entry.exportName];
    } catch (e) {
      finish('failed', `import of ${entry.module} failed: ${errText(e)} (are the packages built? npx nx run-many -t build)`);
      continue;
    }
    if (typeof fn !== 'function') { finish('not-available', `${entry.module} does not export ${entry.exportName}()`); continue; }
    let raw;
    try {
      raw = await fn({ quick, onProgress: (done, total, label) => reporter.suiteProgress(done, total, label) });
    } catch (e) {
      finish('failed', `${entry.exportName}() threw: ${errText(e)}`);
      continue;
    }
    if (!Array.isArray(raw)) { finish('failed', `${entry.exportName}() returned ${typeof raw}, not an array of cases`); continue; }
    const valid = [];
    const problems = [];
    raw.forEach((c, i) => {
      const n = normalizeCase(c, entry.name);
      const errs = validateCase(n, `${entry.name}[${i}]`);
      if (errs.length) problems.push(...errs); else valid.push(n);
    });
    cases.push(...valid);
    if (valid.length === 0) finish('failed', `returned no valid cases${problems.length ? `: ${problems.slice(0, 5).join('; ')}` : ''}`);
    else if (problems.length) finish('failed', `${raw.length - valid.length} invalid case(s) dropped: ${problems.slice(0, 5).join('; ')}`, valid.length);
    else finish('ok', undefined, valid.length);
  }
  return { suites, cases };
}

/** @param {unknown} e */
function errText(e) {
  return e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (cause: ${e.cause.message})` : ''}` : String(e);
}
