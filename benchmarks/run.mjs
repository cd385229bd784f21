#!/usr/bin/env node
// `npm run bench`: runs every benchmark suite, writes one JSON record of the run to
// benchmarks/results/run-<ISO>.json (schema: lib/schema.mjs, README.md) and re-renders the
// dashboard (dashboard/out/index.html) from the whole history.
//
//   node run.mjs [--quick] [--suite ring,transport] [--out DIR] [--json] [--no-dashboard]
//                [--dashboard-out DIR] [--allow-missing]
//
// Exit status: 0 when every selected suite ran; 1 when any suite was not available or failed
// (still after writing the record and the page, so partial results are kept), unless
// --allow-missing, which tolerates "not-available" (not "failed"); 2 on bad arguments.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitState, machineInfo, vtconPackageVersions } from './lib/environment.mjs';
import { analyzeHistory, loadHistory } from './lib/history.mjs';
import { createReporter } from './lib/progress.mjs';
import { assertRun, RUN_SCHEMA_VERSION } from './lib/schema.mjs';
import { runSuites } from './lib/suites.mjs';
import { evaluateTargets } from './lib/targets.mjs';
import { buildDashboard } from './dashboard/build.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

/**
 * Every suite the runner knows. A suite whose module is missing is reported "not available".
 * @type {import('./lib/suites.mjs').SuiteEntry[]}
 */
export const SUITES = [
  { name: 'ring', module: 'ring/ring-bench.mjs', exportName: 'runRingBench' },
  { name: 'transport', module: 'transport/transport-bench.mjs', exportName: 'runTransportBench' },
  { name: 'console', module: 'console/console-bench.mjs', exportName: 'runConsoleBench' },
  { name: 'pool', module: 'console/pool-bench.mjs', exportName: 'runPoolBench' },
  { name: 'fleet', module: 'fleet/fleet-bench.mjs', exportName: 'runFleetBench' },
  { name: 'holder', module: 'holder/takeover-bench.mjs', exportName: 'runTakeoverBench' },
  { name: 'readers', module: 'console/readers-bench.mjs', exportName: 'runReadersBench' },
];

const USAGE = `usage: node run.mjs [--quick] [--suite ${SUITES.map((s) => s.name).join(',')}] [--out DIR] [--json]
                   [--no-dashboard] [--dashboard-out DIR] [--allow-missing]
  --quick           fewer samples (a smoke run; compared only with other quick runs)
  --suite LIST      comma-separated suites to run (default: all)
  --out DIR         where run-<ISO>.json is written and the history read (default: benchmarks/results)
  --json            print the run record on stdout (progress and logs go to stderr)
  --no-dashboard    do not re-render the dashboard
  --dashboard-out   dashboard output folder (default: benchmarks/dashboard/out)
  --allow-missing   exit 0 even if a suite's module does not exist yet`;

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false }, suite: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false },
        'no-dashboard': { type: 'boolean', default: false }, 'dashboard-out': { type: 'string' }, 'allow-missing': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    console.error(`${/** @type {Error} */ (e).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.error(USAGE); return 0; }
  let selected = SUITES;
  if (values.suite) {
    const names = values.suite.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !SUITES.some((s) => s.name === n));
    if (unknown.length) { console.error(`unknown suite(s): ${unknown.join(', ')}\n${USAGE}`); return 2; }
    selected = SUITES.filter((s) => names.includes(s.name));
  }
  const resultsDir = path.resolve(values.out ?? path.join(here, 'results'));
  const date = new Date();
  const machine = machineInfo(); // before the suites load the machine: loadavg is a noise hint
  const reporter = createReporter();

  // With --json, stdout carries only the record: anything a suite logs goes to stderr.
  const log = console.log;
  if (values.json) console.log = (...args) => console.error(...args);
  let outcome;
  try {
    outcome = await runSuites(selected, { quick: values.quick, root: here, reporter });
  } finally {
    reporter.close();
    console.log = log;
  }

  const record = assertRun({
    schemaVersion: RUN_SCHEMA_VERSION,
    date: date.toISOString(),
    quick: values.quick,
    machine,
    node: process.version,
    packages: vtconPackageVersions(repoRoot),
    git: gitState(repoRoot),
    suites: outcome.suites,
    cases: outcome.cases,
  }, 'this run');
  mkdirSync(resultsDir, { recursive: true });
  // ':' is not allowed in Windows file names; the rest of ISO 8601 sorts chronologically.
  const file = path.join(resultsDir, `run-${record.date.replace(/:/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);

  const err = (s = '') => console.error(s);
  err(`\nwrote ${file}`);
  summarize(record, err);

  const { runs } = loadHistory(resultsDir);
  const { regressions } = analyzeHistory(runs);
  const mine = regressions.filter((r) => r.date === record.date);
  if (mine.length) {
    err(`\n!!! REGRESSION: ${mine.length} case metric(s) are >15% worse than the median of their previous runs:`);
    for (const r of mine) err(`    ${r.key}: ${r.value.toPrecision(4)} ${r.metric.unit} vs ${r.reference.toPrecision(4)} (${(r.change * 100).toFixed(1)}%)`);
  }
  if (!values['no-dashboard']) {
    const d = buildDashboard({ resultsDir, outDir: values['dashboard-out'] && path.resolve(values['dashboard-out']) });
    err(`dashboard: ${d.file} (${d.runs} runs; open it in a browser)`);
    for (const f of d.invalid) err(`dashboard: IGNORED invalid ${f.file}: ${f.errors.slice(0, 3).join('; ')}`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);

  const notAvailable = record.suites.filter((s) => s.status === 'not-available');
  const failed = record.suites.filter((s) => s.status === 'failed');
  if (notAvailable.length || failed.length) {
    err(`\n!!! ${[...notAvailable, ...failed].map((s) => `${s.name}: ${s.status.toUpperCase()}`).join(', ')} — this run is incomplete.`);
  }
  if (failed.length) return 1;
  if (notAvailable.length && !values['allow-missing']) return 1;
  return 0;
}

/**
 * Human summary on stderr: each case's headline numbers, then the targets.
 * @param {import('./lib/schema.mjs').RunRecord} record
 * @param {(s?: string) => void} err
 */
function summarize(record, err) {
  const si = (n) => (n === undefined ? '' : n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1));
  const us = (ns) => (ns === undefined ? '' : `${(ns / 1e3).toFixed(1)}µs`);
  const rows = record.cases.map((c) => ({
    case: `${c.suite}/${c.name}`, 'ops/s': si(c.opsPerSec), 'bytes/s': si(c.bytesPerSec), p50: us(c.p50Ns), p99: us(c.p99Ns),
    ratio: c.ratio === undefined ? '' : `${c.ratio.toFixed(3)}×`, value: c.value === undefined ? '' : `${si(c.value)} ${c.unit}`,
  }));
  if (rows.length) {
    const cols = Object.keys(rows[0]).filter((k) => k === 'case' || rows.some((r) => r[k] !== ''));
    const width = Object.fromEntries(cols.map((k) => [k, Math.max(k.length, ...rows.map((r) => String(r[k]).length))]));
    err(cols.map((k) => k.padEnd(width[k])).join('  '));
    for (const r of rows) err(cols.map((k) => String(r[k]).padEnd(width[k])).join('  '));
  }
  err('\ntargets:');
  for (const t of evaluateTargets(record.cases)) err(`  [${t.status.toUpperCase().padEnd(8)}] ${t.target} ${t.threshold}${t.measured ? `: ${t.measured}` : ''}`);
}

process.exitCode = await main();
