// The fleet commands that read more than one request: ls across hosts (the inventory), stats,
// logs from the stream, and attach (live bytes from the stream, keystrokes over request/reply).
import { CliError } from '../errors.js';
import { bytes, c, printJson, table } from '../cli/output.js';
import { EscapeFilter, describeEscape, parseEscape } from '../cli/escape.js';
import type { FleetNats } from './cli-nats.js';
import { withFleet, type FleetClient, type ListedHost } from './client.js';
import { DOWN_AFTER } from './inventory.js';
import type { HostTarget } from './route.js';

export function renderHosts(hosts: ListedHost[], now = Date.now()): string {
  if (hosts.length === 0) return 'no hosts in the fleet inventory (is any daemon configured with `fleet:`?)';
  const rows: string[][] = [];
  for (const h of hosts) {
    const st = h.status === 'up' ? c.green('up') : c.red(h.status);
    const seen = `${Math.round((now - Date.parse(h.at)) / 1000)}s ago`;
    if (h.vms.length === 0) rows.push([h.host, st, seen, c.dim('(no VMs)'), '', '', '', '', '', '', '']);
    for (const vm of h.vms) {
      for (const [i, p] of vm.ports.entries()) {
        rows.push([h.host, st, seen, i === 0 ? vm.name : '', i === 0 ? vm.state : '', p.name + (p.console ? c.dim(' (console)') : ''),
          p.guestOpen ? 'open' : c.dim('closed'), bytes(p.bytesIn), bytes(p.bytesOut), bytes(p.backlog), bytes(p.streamed)]);
      }
    }
  }
  return table(['HOST', 'STATUS', 'SEEN', 'VM', 'STATE', 'PORT', 'GUEST', 'IN', 'OUT', 'BACKLOG', 'STREAMED'], rows);
}

export async function ls(url: FleetNats, json: boolean): Promise<void> {
  const { hosts, ignored } = await withFleet(url, async (f) => ({ hosts: await f.hosts(), ignored: f.ignored }));
  // One bad entry is reported, not fatal: the other hosts still list.
  for (const e of ignored) process.stderr.write(`vtcon: inventory entry ${e.key} ignored: ${e.why}\n`);
  if (json) return printJson({ hosts, ignored });
  process.stdout.write(renderHosts(hosts) + '\n');
  const down = hosts.filter((h) => h.status === 'down');
  if (down.length > 0) process.stdout.write(c.dim(`down: no heartbeat for ${DOWN_AFTER} periods; their logs stay readable with \`vtcon --nats URL logs HOST/VM:PORT\``) + '\n');
}

export async function stats(url: FleetNats, json: boolean): Promise<void> {
  const hosts = await withFleet(url, (f) => f.hosts());
  const rows = hosts.flatMap((h) => h.vms.flatMap((vm) => vm.ports.map((p) => ({ host: h.host, status: h.status, vm: vm.name, port: p.name, bytesIn: p.bytesIn, bytesOut: p.bytesOut, backlog: p.backlog, streamed: p.streamed }))));
  if (json) return printJson({ at: new Date().toISOString(), ports: rows });
  process.stdout.write(table(['HOST', 'STATUS', 'VM', 'PORT', 'IN', 'OUT', 'BACKLOG', 'STREAMED'],
    rows.map((r) => [r.host, r.status, r.vm, r.port, bytes(r.bytesIn), bytes(r.bytesOut), bytes(r.backlog), bytes(r.streamed)])) + '\n');
}

export async function logs(url: FleetNats, t: HostTarget, o: { sinceMs?: number; follow?: boolean }): Promise<void> {
  await withFleet(url, async (f) => {
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    for await (const chunk of f.output(t.host, t.vm, t.port!, { ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}), follow: Boolean(o.follow), signal: ac.signal })) {
      if (!process.stdout.write(chunk.data)) await new Promise((r) => process.stdout.once('drain', r));
    }
  });
}

/** The port attach defaults to: the VM's console port, else its first, from the inventory. */
async function defaultPort(f: FleetClient, t: HostTarget): Promise<string> {
  const vm = (await f.hosts()).find((h) => h.host === t.host)?.vms.find((v) => v.name === t.vm);
  if (!vm) throw new CliError('VM_NOT_FOUND', `no VM "${t.vm}" on host "${t.host}" in the inventory`, { hint: 'list them with `vtcon --nats URL ls`' });
  const p = (vm.ports.find((x) => x.console) ?? vm.ports[0])?.name;
  if (!p) throw new CliError('PORT_NOT_FOUND', `VM "${t.vm}" on "${t.host}" has no ports`, { hint: 'list them with `vtcon --nats URL ls`' });
  return p;
}

/**
 * Remote attach: output from the stream (its last message as replay, then live), keystrokes
 * as `send` requests, one in flight at a time (the reply is the flow control: a full backlog
 * is reported, never dropped silently), window size as `resize`. --read-only sends nothing.
 */
export async function attach(url: FleetNats, t: HostTarget, o: { escape: string; readOnly?: boolean }): Promise<void> {
  const escape = parseEscape(o.escape);
  await withFleet(url, async (f) => {
    const port = t.port ?? await defaultPort(f, t);
    const label = `${t.host}/${t.vm}:${port}`;
    const note = (m: string): void => void process.stderr.write(`\r\n[vtcon: ${m}]\r\n`);
    note(`attached to ${label} over NATS${o.readOnly ? ' (read-only)' : ''}; ${describeEscape(escape)} then . to detach`);
    const ac = new AbortController();
    const output = (async () => {
      for await (const chunk of f.output(t.host, t.vm, port, { fromLast: true, follow: true, signal: ac.signal })) process.stdout.write(chunk.data);
    })();
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    const call = (op: 'send' | 'resize', p: Record<string, unknown>) => f.call<{ accepted?: number; bytes?: number }>(t.host, op, { vm: t.vm, port, ...p });
    let sending = Promise.resolve();
    const sendSize = () => {
      if (!o.readOnly && process.stdout.isTTY) void call('resize', { cols: process.stdout.columns, rows: process.stdout.rows }).catch((e: Error) => note(e.message));
    };
    sendSize();
    process.on('SIGWINCH', sendSize);
    if (tty) stdin.setRawMode(true);
    const filter = new EscapeFilter(escape);
    await new Promise<void>((resolve) => {
      const done = (why: string) => {
        stdin.off('data', onInput);
        process.off('SIGWINCH', sendSize);
        if (tty) stdin.setRawMode(false);
        stdin.pause();
        ac.abort();
        void sending.then(() => output).catch(() => undefined).then(() => { note(why); resolve(); });
      };
      const onInput = (chunk: Buffer) => {
        const { forward, detach } = filter.push(chunk);
        if (forward.length > 0 && !o.readOnly) {
          const data = Buffer.from(forward).toString('base64');
          sending = sending.then(() => call('send', { data })).then((r) => {
            if (r.accepted !== undefined && r.bytes !== undefined && r.accepted < r.bytes) note(`backlog full: ${r.bytes - r.accepted} bytes not accepted by ${label}`);
          }, (e: Error) => note(e.message));
        }
        if (detach) done(`detached from ${label}`);
      };
      stdin.on('data', onInput);
      // Piped input: detach once it ends, its keystrokes were acknowledged and the guest's answer
      // had time to come back through the stream.
      if (!tty) stdin.once('end', () => void sending.then(() => setTimeout(() => done('input ended; detached'), 2000)));
      stdin.resume();
    });
  });
}
