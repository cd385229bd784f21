// Test support for the web console's browser suite: a `vtcon serve` with a web: section and the
// demo's simulated guests, flooding guests (the seed driver model writing as fast as the device
// takes it), Debian's Chromium through playwright-core, and /proc figures of the daemon.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadStack } from '../daemon/stack.js';
import { serve, vmYaml, waitFor, type Served } from './binary.js';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const WRITE_TOKEN = 'write-token-0123456789abcdef';
export const READ_TOKEN = 'read-token-0123456789abcdef';

export interface WebFleet { served: Served; url: string; origin: string }

/**
 * `vtcon serve` with demo1/demo2 (simulated guests that echo, answer `stty size`) and the
 * flooding VMs flood1..floodN (ports console + serial1..4, no guest yet), hosting the web
 * console on a free loopback port with one write and one read token from the config.
 */
export async function startWebFleet(floodVms: number): Promise<WebFleet> {
  const served = await serve((dir) => {
    const ports = [{ name: 'console', console: true }, { name: 'serial1' }];
    const flood = Array.from({ length: floodVms }, (_, i) => {
      const fports = [{ name: 'console', console: true }, ...[1, 2, 3, 4].map((n) => ({ name: `serial${n}` }))];
      // Written with socket first, so serve() does not start an echoing guest for it.
      return vmYaml(dir, `flood${i + 1}`, fports).replace(/^ {2}- name: (\S+)\n {4}socket: (\S+)\n/, '  - socket: $2\n    name: $1\n');
    });
    return [vmYaml(dir, 'demo1', ports), vmYaml(dir, 'demo2', ports), ...flood].join('') +
      `web:\n  listen: 127.0.0.1:0\n  loginPerMinute: 30\n  tokens:\n    - { token: ${WRITE_TOKEN}, role: write }\n    - { token: ${READ_TOKEN}, role: read }\n`;
  });
  const line = await waitFor(() => /web console (http:\/\/\S+\/)/.exec(served.stderr()), 'the web console URL');
  const url = line![1]!;
  return { served, url, origin: new URL(url).origin };
}

/** Guests on the flood VMs' sockets that write lines to every port as fast as it takes them. */
export async function startFlood(dir: string, vms: string[]): Promise<{ stop(): Promise<void> }> {
  const { guests: g, transport: t, native } = await loadStack();
  const drivers: InstanceType<typeof g.VtconDriver>[] = [];
  let running = true;
  const loops: Promise<void>[] = [];
  for (const name of vms) {
    const handle = new g.FrontendHandle((onConfigChange) => t.VhostUserFrontend.connect(join(dir, `${name}.vhost.sock`), { onConfigChange }), native);
    const driver = new g.VtconDriver(handle);
    const started = new Set<number>();
    const flood = (p: InstanceType<typeof g.VtconPort>) => {
      if (started.has(p.id)) return;
      started.add(p.id);
      loops.push((async () => {
        if (!p.console) await p.open().catch(() => undefined);
        const line = `${name}:${p.name ?? p.id} ${'0123456789abcdef'.repeat(4)}\r\n`;
        const chunk = line.repeat(Math.floor(4096 / line.length));
        while (running && !p.gone) await p.write(chunk).catch(() => undefined);
      })());
    };
    driver.on('console', flood);
    driver.on('name', flood);
    await driver.attach();
    drivers.push(driver);
  }
  return {
    stop: async () => {
      running = false;
      await Promise.allSettled(drivers.map((d) => d.detach()));
      await Promise.allSettled(loops);
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/apt-deps.sh (it installs the Debian package "chromium")`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 45_000 });
}

/** Opens the page, logs in with `token` through the form, and waits for the fleet table. */
export async function login(browser: Browser, url: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#fleet tbody tr[data-port="demo1:console"]', { timeout: 20_000 });
  return page;
}

/** Opens the console of vm:port in the page and waits for the server's hello. */
export async function openConsole(page: Page, target: string): Promise<void> {
  await page.click(`#fleet tbody tr[data-port="${target}"] button.open`);
  await page.waitForSelector(`.term[data-target="${target}"][data-role]`, { timeout: 20_000 });
}

/** The terminal's whole buffer (scrollback and screen) as lines of text. */
export function terminalLines(page: Page, target: string): Promise<string[]> {
  return page.evaluate((t) => {
    const w = globalThis as unknown as { vtcon: { terminals: Map<string, { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } }> } };
    const buf = w.vtcon.terminals.get(t)!.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? '');
    return out;
  }, target);
}

export async function waitForLine(page: Page, target: string, want: string, timeoutMs = 15_000): Promise<string[]> {
  const lines = await waitFor(async () => {
    const l = await terminalLines(page, target);
    return l.some((x) => x.trim() === want) ? l : null;
  }, `"${want}" in ${target}'s terminal`, timeoutMs);
  return lines!;
}

/** CPU seconds (user + system) and resident set size of a process, from /proc. */
export function procStats(pid: number): { cpuSec: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSec: ticks / 100, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}
