// Model → one self-contained HTML page. Chart.js and the drawing script are inlined so the file
// opens from disk (file://) with no server and no network: no CDN, nothing fetched at view time.
// Text that is known without JavaScript (titles, units, "no data" notices, regressions, targets)
// is rendered here, server side, so it is readable even if a chart fails to draw.

/** @param {unknown} s */
export const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

/** JSON inside <script>: escape '<' so no "</script>" or "<!--" in data can end the element. */
const scriptJson = (v) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const pct = (x) => `${x > 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const num = (x) => (Math.abs(x) >= 1000 ? x.toExponential(3) : Number(x.toPrecision(4)).toString());

/** A latest run with suites that did not run is said at the top, not only in the run table. @param {any} model */
function incompleteBanner(model) {
  const bad = (model.runs[0]?.suites ?? []).filter((s) => s.status !== 'ok');
  if (bad.length === 0) return '';
  return `<p class="bad-banner" id="incomplete">Latest run incomplete: ${bad.map((s) => `${esc(s.name)} ${esc(s.status.toUpperCase())}${s.error ? ` (${esc(s.error)})` : ''}`).join('; ')}.</p>`;
}

/** @param {any} spec */
function chartSection(spec) {
  const body = spec.config
    ? `<div class="canvas-box${spec.small ? ' small' : ''}"><canvas id="chart-${esc(spec.id)}" data-chart="${esc(spec.id)}" data-points="0" role="img" aria-label="${esc(spec.title)}"></canvas></div>`
    : `<p class="no-data" data-chart-empty="${esc(spec.id)}">${esc(spec.empty)}</p>`;
  const mark = spec.regressed ? ' <span class="regression-badge">REGRESSION</span>' : '';
  return `<section class="chart${spec.small ? ' small' : ''}${spec.regressed ? ' regressed' : ''}" id="section-${esc(spec.id)}">
<h3>${esc(spec.title)}${mark}</h3>
<p class="desc">${esc(spec.description)}</p>
${body}
</section>`;
}

/**
 * @param {ReturnType<typeof import('./model.mjs').buildModel>} model
 * @param {{chartJs: string, clientJs: string}} assets  source text to inline
 * @returns {string}
 */
export function renderPage(model, assets) {
  const band = `${model.noiseBand * 100}%`;
  const latestRegs = model.regressions.filter((r) => r.latest);
  const regItems = model.regressions.map((r) => `<li class="${r.latest ? 'latest' : ''}" data-key="${esc(r.key)}"><span class="regression-badge">REGRESSION</span> <b>${esc(r.key)}</b> — ${esc(r.metric.label)} ${esc(num(r.value))} ${esc(r.metric.unit)} vs median ${esc(num(r.reference))} (${esc(pct(r.change))}) in run ${esc(r.runLabel)}${r.latest ? ' <i>(latest run)</i>' : ''}</li>`).join('\n');
  const targetRows = model.targets.map((t) => `<tr class="t-${esc(t.status.replace(' ', '-'))}"><td>${esc(t.target)}</td><td>${esc(t.threshold)}</td><td>${esc(t.measured || '—')}</td><td class="status">${esc(t.status)}</td></tr>`).join('\n');
  const runRows = model.runs.map((r) => `<tr><td>${esc(r.date)}</td><td>${esc(r.commit ? r.commit.slice(0, 10) : '—')}${r.dirty ? ' (dirty)' : ''}</td><td>${esc(r.node)}</td><td>${r.quick ? 'quick' : 'full'}</td><td>${esc(r.machine)}</td><td>${r.cases}</td><td>${r.suites.map((s) => `<span class="suite s-${esc(s.status)}" title="${esc(s.error)}">${esc(s.name)}: ${esc(s.status)}</span>`).join(' ')}</td><td>${esc(r.file)}</td></tr>`).join('\n');
  const invalid = model.invalid.length
    ? `<section class="invalid"><h2>Unreadable result files (ignored)</h2><ul>${model.invalid.map((f) => `<li><b>${esc(f.file)}</b>: ${esc(f.errors.join('; '))}</li>`).join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vtcon benchmarks</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem; max-width: 1400px; color: #222; background: #fafafa; }
h1 { margin: 0 0 .2rem; } h2 { margin-top: 1.8rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { margin: 0 0 .2rem; font-size: 1rem; word-break: break-word; }
.meta, .desc { color: #555; font-size: .85rem; margin: .1rem 0 .5rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1rem; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); }
section.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8rem; }
section.chart.regressed { border: 2px solid #d62728; }
.canvas-box { position: relative; height: 360px; width: 100%; } .canvas-box.small { height: 250px; }
.canvas-box canvas { display: block; }
.no-data { background: #fff4e5; border: 1px dashed #e0a030; padding: 1.2rem; color: #8a5300; font-weight: 600; }
.regression-badge { background: #d62728; color: #fff; font-weight: 700; padding: 0 .4rem; border-radius: 3px; font-size: .8rem; }
#regressions li { margin: .3rem 0; } #regressions li.latest { font-weight: 600; }
.ok-banner { background: #e8f5e9; border: 1px solid #2ca02c; padding: .6rem; }
.bad-banner { background: #fdecea; border: 1px solid #d62728; padding: .6rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; background: #fff; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr.t-met .status { color: #1b7a1b; font-weight: 700; } tr.t-missed .status { color: #d62728; font-weight: 700; } tr.t-no-data .status { color: #8a5300; }
.suite { white-space: nowrap; } .s-not-available, .s-failed { color: #d62728; font-weight: 700; }
.band { background: #eef3fb; border-left: 4px solid #1f77b4; padding: .5rem .8rem; font-size: .9rem; }
</style>
</head>
<body>
<h1>vtcon benchmarks</h1>
<p class="meta">${model.runs.length} run(s) in the history; latest: ${esc(model.runs[0]?.label ?? 'none')} on ${esc(model.runs[0]?.machine ?? '—')}, Node ${esc(model.runs[0]?.node ?? '—')}. Page generated ${esc(model.generatedAt)}.</p>

${incompleteBanner(model)}
<h2>Regressions</h2>
<p class="band">Noise band: a case <b>regressed</b> when its value is more than <b>${esc(band)}</b> worse than the <b>median of its previous up-to-${model.referenceWindow} comparable runs</b> (same CPU model, core count and --quick setting). Worse means lower for throughput and ratios, higher for latency and memory. Changes inside the band are treated as noise.</p>
${latestRegs.length ? `<p class="bad-banner">REGRESSION: ${latestRegs.length} case metric(s) regressed in the latest run.</p>` : `<p class="ok-banner">No regression in the latest run.</p>`}
<ul id="regressions" data-count="${model.regressions.length}" data-latest-count="${latestRegs.length}">
${regItems || '<li class="none">No regressions anywhere in the history.</li>'}
</ul>

<h2>Targets</h2>
<p class="desc">Judged on the newest results of each suite. Source: developers' guide, “Targets”.</p>
<table id="targets"><thead><tr><th>Target</th><th>Threshold</th><th>Measured</th><th>Status</th></tr></thead><tbody>
${targetRows || '<tr><td colspan="4">No runs yet.</td></tr>'}
</tbody></table>

<h2>Latest results</h2>
<div class="grid">
${model.charts.map(chartSection).join('\n')}
</div>

<h2>History per case</h2>
<p class="desc">Each chart: one case’s tracked metric over all runs (x = run month-day and commit, * = dirty tree; full dates in the Runs table). Dashed grey = regression threshold (median of the previous ≤${model.referenceWindow} comparable runs ∓ ${esc(band)}); red enlarged points = regressions.</p>
${model.history.length ? `<div class="grid small">\n${model.history.map(chartSection).join('\n')}\n</div>` : '<p class="no-data" data-chart-empty="history">No data: the history has no runs yet. Run <code>npm run bench</code>.</p>'}

<h2>Runs</h2>
<table id="runs"><thead><tr><th>Date</th><th>Commit</th><th>Node</th><th>Mode</th><th>Machine</th><th>Cases</th><th>Suites</th><th>File</th></tr></thead><tbody>
${runRows || '<tr><td colspan="8">No runs yet.</td></tr>'}
</tbody></table>
${invalid}
<script id="vtcon-model" type="application/json">${scriptJson(model)}</script>
<script>${assets.chartJs.replace(/<\/script/gi, '<\\/script')}</script>
<script>${assets.clientJs}</script>
</body>
</html>
`;
}
