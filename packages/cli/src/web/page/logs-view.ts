// The logs view: one port's log file history, searched on the server, downloadable as a file.
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let current: { vm: string; port: string } | null = null;
// Only the newest request may fill the view: an older answer arriving late is dropped.
let seq = 0;

export async function showLogs(vm: string, port: string, q = ''): Promise<void> {
  current = { vm, port };
  const mine = ++seq;
  $('logs').hidden = false;
  $('logs-title').textContent = `logs: ${vm}:${port}`;
  $<HTMLInputElement>('logs-q').value = q;
  const params = new URLSearchParams({ vm, port, ...(q ? { q } : {}) });
  $<HTMLAnchorElement>('logs-download').href = `/api/logs?${params}&download=1`;
  const r = await fetch(`/api/logs?${params}`, { credentials: 'same-origin' });
  const text = $('logs-text');
  if (mine !== seq) return;
  if (!r.ok) {
    text.textContent = `could not read the log (HTTP ${r.status})`;
    return;
  }
  const body = (await r.json()) as { lines: string[]; matched: number; logFile: string | null };
  if (mine !== seq) return;
  $('logs-count').textContent = `${body.matched} line(s)${q ? ` matching "${q}"` : ''}${body.matched > body.lines.length ? `, last ${body.lines.length} shown` : ''} — ${body.logFile ?? 'no log file'}`;
  text.textContent = body.lines.join('\n');
  text.scrollTop = text.scrollHeight;
}

$('logs-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (current) void showLogs(current.vm, current.port, $<HTMLInputElement>('logs-q').value);
});
$('logs-close').addEventListener('click', () => {
  $('logs').hidden = true;
  current = null;
});
