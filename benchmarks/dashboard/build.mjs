#!/usr/bin/env node
// Renders benchmarks/dashboard/out/index.html from the run history (benchmarks/results/run-*.json).
// Usage: node dashboard/build.mjs [--results DIR] [--out DIR]
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadHistory } from '../lib/history.mjs';
import { buildModel } from './model.mjs';
import { renderPage } from './render.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_RESULTS_DIR = path.resolve(here, '..', 'results');
export const DEFAULT_OUT_DIR = path.resolve(here, 'out');

/** The UMD build of Chart.js (defines window.Chart), resolved through node_modules, never a CDN. */
export function chartJsPath() {
  const require = createRequire(import.meta.url);
  // The package's exports map hides package.json and the UMD file; its main entry sits in dist/.
  return path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

/**
 * @param {{resultsDir?: string, outDir?: string, generatedAt?: string}} [opts]
 * @returns {{file: string, runs: number, invalid: {file: string, errors: string[]}[], regressions: number, latestRegressions: number, charts: {id: string, empty: string|null}[]}}
 */
export function buildDashboard(opts = {}) {
  const resultsDir = opts.resultsDir ?? DEFAULT_RESULTS_DIR;
  const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
  const { runs, invalid } = loadHistory(resultsDir);
  const model = buildModel(runs, { invalid, generatedAt: opts.generatedAt });
  const html = renderPage(model, {
    chartJs: readFileSync(chartJsPath(), 'utf8'),
    clientJs: readFileSync(path.join(here, 'client.js'), 'utf8'),
  });
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'index.html');
  writeFileSync(file, html);
  return {
    file, runs: runs.length, invalid,
    regressions: model.regressions.length,
    latestRegressions: model.regressions.filter((r) => r.latest).length,
    charts: [...model.charts, ...model.history].map((c) => ({ id: c.id, empty: c.empty })),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { results: { type: 'string' }, out: { type: 'string' } } });
  const r = buildDashboard({ resultsDir: values.results && path.resolve(values.results), outDir: values.out && path.resolve(values.out) });
  for (const f of r.invalid) console.error(`dashboard: IGNORED invalid ${f.file}: ${f.errors.join('; ')}`);
  const empty = r.charts.filter((c) => c.empty);
  console.log(`dashboard: ${r.file} (${r.runs} runs, ${r.charts.length - empty.length}/${r.charts.length} charts with data, ${r.regressions} regression(s), ${r.latestRegressions} in the latest run)`);
}
