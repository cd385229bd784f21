// The fleet page: login, the live fleet table (polled once a second), terminals side by side and
// the logs view. Everything it needs is in this bundle; it talks only to the server it came from.
import './app.css';
import { showLogs } from './logs-view.js';
import { TerminalView } from './terminal-view.js';

interface PortRow {
  vm: string; state: string; port: string; console: boolean; guestOpen: boolean;
  bytesIn: number; bytesOut: number; backlog: number; dropped: number; inPerSec: number; outPerSec: number;
  size: { cols: number; rows: number } | null;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const terminals = new Map<string, TerminalView>();
// For tests and the curious: the open terminals, by "vm:port", and a way to open one.
(window as unknown as { vtcon: unknown }).vtcon = { terminals, open: (vm: string, port: string) => openTerminal(vm, port) };
let poller: number | undefined;

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(path, { credentials: 'same-origin', ...init });
  if (r.status === 401) {
    showLogin();
    throw new Error('not logged in');
  }
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

function showLogin(message = ''): void {
  clearInterval(poller);
  for (const t of [...terminals.values()]) t.close();
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = message;
  $<HTMLInputElement>('token').focus();
}

function showApp(role: string): void {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('whoami').textContent = role === 'write' ? 'logged in: write' : 'logged in: read-only';
  document.body.dataset.role = role;
  void refresh();
  poller = window.setInterval(() => void refresh(), 1000);
}

function openTerminal(vm: string, port: string): void {
  const key = `${vm}:${port}`;
  const open = terminals.get(key);
  if (open) return open.el.scrollIntoView({ block: 'nearest' });
  terminals.set(key, new TerminalView(vm, port, $('terminals'), {
    onLogs: (v, p) => void showLogs(v, p),
    onClose: (t) => terminals.delete(`${t.vm}:${t.port}`),
  }));
}

function newRow(p: PortRow): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.port = `${p.vm}:${p.port}`;
  for (let j = 0; j < 10; j++) tr.insertCell().className = j >= 4 && j <= 8 ? 'num' : '';
  const actions = tr.insertCell();
  const open = document.createElement('button');
  open.className = 'open';
  open.textContent = 'console';
  open.addEventListener('click', () => openTerminal(p.vm, p.port));
  const logs = document.createElement('button');
  logs.textContent = 'logs';
  logs.addEventListener('click', () => void showLogs(p.vm, p.port));
  actions.append(open, ' ', logs);
  return tr;
}

async function refresh(): Promise<void> {
  let snap: { rows: PortRow[] };
  try {
    snap = await api<{ rows: PortRow[] }>('/api/fleet');
  } catch {
    return;
  }
  const body = ($('fleet') as HTMLTableElement).tBodies[0]!;
  // Rows are rebuilt only when the set of ports changes; otherwise their cells are updated in
  // place, so a button under the pointer stays the same element while the numbers move.
  const keys = snap.rows.map((p) => `${p.vm}:${p.port}`).join(' ');
  if (body.dataset.keys !== keys) {
    body.replaceChildren(...snap.rows.map((p) => newRow(p)));
    body.dataset.keys = keys;
  }
  snap.rows.forEach((p, i) => {
    const first = i === 0 || snap.rows[i - 1]!.vm !== p.vm;
    const values = [
      first ? p.vm : '', first ? p.state : '', p.port + (p.console ? ' (console)' : ''), p.guestOpen ? 'open' : 'closed',
      `${bytes(p.inPerSec)}/s`, `${bytes(p.outPerSec)}/s`, bytes(p.bytesIn), bytes(p.bytesOut), bytes(p.backlog),
      p.size ? `${p.size.cols}x${p.size.rows}` : '-',
    ];
    const cells = body.rows[i]!.cells;
    values.forEach((v, j) => {
      if (cells[j]!.textContent !== v) cells[j]!.textContent = v;
    });
    cells[1]!.className = p.state;
    cells[3]!.className = p.guestOpen ? '' : 'closed';
  });
  document.body.dataset.fleetAt = String(Date.now());
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>('token');
  void fetch('/api/login', {
    method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: input.value }),
  }).then(async (r) => {
    input.value = '';
    if (r.ok) showApp(((await r.json()) as { role: string }).role);
    else showLogin(r.status === 429 ? 'too many attempts; wait a minute' : 'wrong token');
  });
});

$('logout').addEventListener('click', () => {
  void fetch('/api/logout', { method: 'POST', credentials: 'same-origin' }).then(() => showLogin());
});

void fetch('/api/me', { credentials: 'same-origin' }).then(async (r) => {
  if (r.ok) showApp(((await r.json()) as { role: string }).role);
  else showLogin();
});
