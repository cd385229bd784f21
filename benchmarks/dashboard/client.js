// Runs in the browser: draws every chart spec embedded in the page with the inlined Chart.js and
// records, on each canvas, how many data points it drew (data-points) so a test — or a human with
// devtools — can tell a drawn chart from an empty one. Reference datasets (target lines, the
// regression threshold) are marked vtconRole and not counted.
/* global Chart, document, window */
(function drawDashboard() {
  const model = JSON.parse(document.getElementById('vtcon-model').textContent);
  Chart.defaults.animation = false; // screenshots and tests see the final frame at once
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  const charts = [];
  let drawn = 0;
  let failed = 0;
  for (const spec of [...model.charts, ...model.history]) {
    if (!spec.config) continue;
    const canvas = document.getElementById(`chart-${spec.id}`);
    if (!canvas) continue;
    try {
      const chart = new Chart(canvas, spec.config);
      charts.push(chart);
      let points = 0;
      chart.data.datasets.forEach((ds, i) => {
        if (ds.vtconRole) return;
        const meta = chart.getDatasetMeta(i);
        ds.data.forEach((v, j) => {
          const y = v !== null && typeof v === 'object' ? v.y : v;
          if (y !== null && y !== undefined && Number.isFinite(Number(y)) && meta.data[j]) points++;
        });
      });
      canvas.dataset.points = String(points);
      drawn++;
    } catch (e) {
      canvas.dataset.points = '0';
      canvas.dataset.error = String(e && e.message ? e.message : e);
      const p = document.createElement('p');
      p.className = 'no-data';
      p.textContent = `Chart failed to draw: ${canvas.dataset.error}`;
      canvas.parentElement.after(p);
      failed++;
    }
  }
  document.body.dataset.chartsDrawn = String(drawn);
  document.body.dataset.chartsFailed = String(failed);
  // Charts created during parsing can be sized before the grid's final layout; resize them once
  // the layout has settled, then announce readiness (tests and screenshots wait for it).
  window.requestAnimationFrame(() => {
    for (const chart of charts) chart.resize();
    document.body.dataset.ready = 'true';
  });
})();
