// The inventory as readers see it, on a real nats-server: entries another writer put there are
// checked, and one bad entry leaves the other hosts listed.
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../testing/binary.js';
import { natsServer } from '../testing/nats.js';
import type { VmInfo } from '../daemon/fleet.js';
import { createInventory, hostRecord, parseHostEntry, putHost, readInventory, type IgnoredEntry } from './inventory.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const vm: VmInfo = {
  name: 'vm1', state: 'connected', socket: '/run/vm1.sock', features: [], connectedSince: null,
  ports: [{
    name: 'console', id: 0, console: true, guestOpen: true, bytesIn: 5, bytesOut: 0, backlog: 0, dropped: 0, attachPath: '/run/vm1.console',
    logFile: null, logError: null, size: null, readerSource: 'log', readers: [],
  }],
};

describe('inventory entries', () => {
  it('parseHostEntry takes a daemon\'s own record and names what is wrong with others', () => {
    const good = hostRecord('h1', 500, [vm], () => 3);
    expect(parseHostEntry('host.h1', JSON.stringify(good))).toEqual(good);
    expect(parseHostEntry('host.h1', '{"host":')).toMatch(/^not JSON/);
    expect(parseHostEntry('host.h1', JSON.stringify({ host: 'h1' }))).toMatch(/^not a host record: at: /);
    expect(parseHostEntry('host.h1', JSON.stringify({ ...good, at: 'yesterday' }))).toMatch(/^not a host record: at: /);
    expect(parseHostEntry('host.h1', JSON.stringify({ ...good, vms: [{ ...vm, ports: 'many' }] }))).toMatch(/^not a host record: vms\.0\.ports: /);
    expect(parseHostEntry('host.evil', JSON.stringify(good))).toBe('names host "h1" under key host.evil');
  });

  it('a malformed entry or one standing in for another host is left out and reported; the others list (readInventory and `ls`)', async () => {
    const nats = await natsServer();
    cleanups.push(() => nats.stop());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const kv = await createInventory(nc);
    const h1 = hostRecord('h1', 500, [vm], () => 3);
    const h2 = hostRecord('h2', 500, [], () => 0);
    await putHost(kv, h1);
    await putHost(kv, h2);
    await kv.put('host.bad', '{"host":');
    await kv.put('host.partial', JSON.stringify({ host: 'partial' }));
    // sorts after host.h1: read last, it would replace h1's record if believed
    await kv.put('host.zz', JSON.stringify({ ...h1, vms: [] }));

    const ignored: IgnoredEntry[] = [];
    expect(await readInventory(nc, (e) => ignored.push(e))).toEqual([h1, h2]);
    expect(ignored.map((e) => e.key).sort()).toEqual(['host.bad', 'host.partial', 'host.zz']);

    const r = runCli(['--nats', nats.url, 'ls', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { hosts: { host: string; vms: unknown[] }[]; ignored: IgnoredEntry[] };
    expect(out.hosts.map((h) => [h.host, h.vms.length])).toEqual([['h1', 1], ['h2', 0]]);
    expect(out.ignored.map((e) => e.key).sort()).toEqual(['host.bad', 'host.partial', 'host.zz']);
    expect(r.stderr).toContain('vtcon: inventory entry host.zz ignored: names host "h1" under key host.zz');
  });
});
