// Builds the dashboard from the fixture history (five runs, the newest with an injected 40 % drop
// in ring/js-split-ring at 4 KiB, batch 64) and checks it in a real headless Chromium: every chart
// drew data points, the regression is flagged, charts without data say so. Saves a screenshot to
// dashboard/out/dashboard.png. Needs Debian's `chromium` (scripts/apt-deps.sh installs it);
// playwright-core never downloads a browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, mkdirSync, rmSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildDashboard } from './build.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REGRESSED_KEY = 'ring/js-split-ring [batch=64,payload=4096]';

/** @type {import('playwright-core').BrowserContext} */
let context;
let tmp = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/apt-deps.sh (it installs the Debian package "chromium").`);
  }
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vtcon-dashboard-'));
  // A fresh profile per run: no state, extensions or first-run UI from earlier runs.
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 }, timeout: 45_000,
  });
});

afterAll(async () => {
  await context?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/**
 * Opens a built page and waits for the drawing script to finish.
 * @param {string} file
 */
async function open(file) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The page must be self-contained: fail on any request that is not the file itself.
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return { page, errors, requests };
}

it('finds Debian chromium at /usr/bin/chromium (scripts/apt-deps.sh installs it)', () => {
  expect(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run scripts/apt-deps.sh`).toBe(true);
});

describe('dashboard from the fixture history', () => {
  /** @type {ReturnType<typeof buildDashboard>} */
  let built;
  /** @type {Awaited<ReturnType<typeof open>>} */
  let opened;

  beforeAll(async () => {
    built = buildDashboard({ resultsDir: path.join(here, 'fixtures'), outDir: path.join(tmp, 'full'), generatedAt: '2025-11-24T10:00:00.000Z' });
    opened = await open(built.file);
  });

  it('loads all five fixture runs, none invalid', () => {
    expect(built.runs).toBe(5);
    expect(built.invalid).toEqual([]);
  });

  it('draws data points in every chart and has a Chart.js instance behind each canvas', async () => {
    const charts = await opened.page.$$eval('canvas[data-chart]', (canvases) => canvases.map((c) => ({
      id: c.getAttribute('data-chart'),
      points: Number(c.getAttribute('data-points')),
      // @ts-expect-error Chart is the inlined UMD global
      instance: Boolean(window.Chart.getChart(c)),
      width: c.width,
    })));
    expect(charts.map((c) => c.id)).toEqual(built.charts.map((c) => c.id));
    for (const id of ['throughput-guests', 'throughput-ports', 'workers', 'ratio', 'latency']) expect(charts.map((c) => c.id)).toContain(id);
    expect(charts.filter((c) => c.id?.startsWith('history-')).length).toBeGreaterThanOrEqual(15);
    for (const c of charts) {
      expect(c.points, `chart ${c.id} drew no points`).toBeGreaterThan(0);
      expect(c.instance, `chart ${c.id} has no Chart instance`).toBe(true);
      expect(c.width).toBeGreaterThan(0);
    }
    expect(await opened.page.$$('[data-chart-empty]')).toHaveLength(0);
    expect(await opened.page.$$('#incomplete')).toHaveLength(0);
    expect(await opened.page.getAttribute('body', 'data-charts-failed')).toBe('0');
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([]);
  });

  it('counts exactly the measured points: ring ratio chart has 4 cases, throughput vs guests 3', async () => {
    const points = async (id) => Number(await opened.page.getAttribute(`#chart-${id}`, 'data-points'));
    expect(await points('ratio')).toBe(4);
    expect(await points('throughput-guests')).toBe(3);
    expect(await points('workers')).toBe(2);
    expect(await points('latency')).toBe(4);
  });

  it('flags the injected regression, and only it', async () => {
    const items = await opened.page.$$eval('#regressions li[data-key]', (lis) => lis.map((li) => ({ key: li.getAttribute('data-key'), text: li.textContent ?? '', latest: li.classList.contains('latest') })));
    expect(items.length).toBeGreaterThan(0);
    for (const it of items) {
      expect(it.key?.startsWith(REGRESSED_KEY)).toBe(true);
      expect(it.text).toContain('REGRESSION');
      expect(it.latest).toBe(true);
    }
    expect(items.map((i) => i.key)).toContain(REGRESSED_KEY);
    expect(await opened.page.locator('.bad-banner').isVisible()).toBe(true);
    const flaggedSections = await opened.page.$$eval('section.chart.regressed h3', (hs) => hs.map((h) => h.textContent ?? ''));
    expect(flaggedSections.some((t) => t.includes(REGRESSED_KEY) && t.includes('REGRESSION'))).toBe(true);
    // The noise band is stated on the page.
    expect(await opened.page.textContent('.band')).toMatch(/15%.*median of its previous up-to-5/);
  });

  it('shows the targets with the fixture numbers judged', async () => {
    const rows = await opened.page.$$eval('#targets tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const status = Object.fromEntries(rows.map((r) => [r[0], r[3]]));
    expect(status['Ring cross-thread JS/C ratio, 4 KiB chains, batch 64']).toBe('missed'); // the regression pulls it to ~0.37×
    expect(status['Ring cross-thread JS/C ratio, 128 B chains, batch 64']).toBe('met');
    expect(status['Two workers vs one']).toBe('met');
  });

  it('saves a full-page screenshot', async () => {
    const outDir = path.join(here, 'out');
    mkdirSync(outDir, { recursive: true });
    const png = path.join(outDir, 'dashboard.png');
    await opened.page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(50_000);
    // The README's copy is refreshed only on request, so CI does not dirty the tree.
    if (process.env.VTCON_UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(png, path.join(here, '..', '..', 'docs', 'dashboard.png'));
  });
});

describe('dashboard with missing data', () => {
  it('says "No data" for each chart it cannot draw instead of drawing an empty one', async () => {
    const results = path.join(tmp, 'partial-results');
    mkdirSync(results, { recursive: true });
    const fixture = JSON.parse(readFileSync(path.join(here, 'fixtures', 'run-2025-11-20T09-00-00.000Z.json'), 'utf8'));
    fixture.cases = fixture.cases.filter((c) => c.suite === 'ring');
    fixture.suites = [fixture.suites[0], { name: 'console', status: 'not-available', error: 'Cannot find module', durationMs: 0, cases: 0 }];
    writeFileSync(path.join(results, 'run-2025-11-20T09-00-00.000Z.json'), JSON.stringify(fixture));
    writeFileSync(path.join(results, 'run-broken.json'), '{"schemaVersion": 1}');
    const built = buildDashboard({ resultsDir: results, outDir: path.join(tmp, 'partial') });
    expect(built.invalid.map((f) => f.file)).toEqual(['run-broken.json']);
    const { page, errors } = await open(built.file);
    const empty = await page.$$eval('[data-chart-empty]', (ps) => ps.map((p) => [p.getAttribute('data-chart-empty'), p.textContent ?? '']));
    expect(empty.map((e) => e[0]).sort()).toEqual(['latency', 'throughput-guests', 'throughput-ports', 'workers']);
    for (const [, text] of empty) expect(text).toMatch(/^No data: /);
    expect(Number(await page.getAttribute('#chart-ratio', 'data-points'))).toBe(4);
    expect(await page.textContent('#regressions')).toContain('No regressions');
    expect(await page.textContent('#runs')).toContain('console: not-available');
    expect(await page.textContent('#incomplete')).toContain('console NOT-AVAILABLE');
    expect(await page.textContent('.invalid')).toContain('run-broken.json');
    expect(errors).toEqual([]);
  });
});
