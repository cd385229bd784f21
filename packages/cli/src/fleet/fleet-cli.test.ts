// The fleet CLI against real daemons on one real nats-server: two hosts, simulated guests
// (`vtcon guest`, the seed driver model over vhost-user), every command through `--nats URL`.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir, waitFor } from '../testing/binary.js';
import { fleetConfig, startFleetDaemon, startGuests, type FleetDaemon } from '../testing/fleet-daemon.js';
import { natsServer, type NatsServer } from '../testing/nats.js';
import type { ListedHost } from './client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

interface Setup { nats: NatsServer; dir: string; daemons: Map<string, FleetDaemon> }

async function fleetOf(hosts: Record<string, string[]>, natsConf = '', auth?: { user: string; password: string }, guests = true): Promise<Setup> {
  const nats = await natsServer(natsConf);
  const dir = tempDir('vtcon-fleet-cli-');
  const daemons = new Map<string, FleetDaemon>();
  const children: ChildProcess[] = [];
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => nats.stop(), () => {
    for (const d of daemons.values()) d.child.kill('SIGKILL');
    for (const c of children) c.kill('SIGKILL');
  });
  for (const [host, vms] of Object.entries(hosts)) {
    const cfg = fleetConfig(dir, host, nats.url, vms.map((name) => ({ name, ports: [{ name: 'console', console: true }, { name: 'org.test.data' }] })), auth);
    daemons.set(host, await startFleetDaemon(cfg, dir));
    if (!guests) continue;
    children.push(await startGuests(dir, host, vms));
  }
  return { nats, dir, daemons };
}

const fleetCli = (s: Setup, args: string[], env: Record<string, string> = {}, input?: string) => runCli(['--nats', s.nats.url, ...args], env, input);
const hostsOf = (s: Setup, env: Record<string, string> = {}): ListedHost[] => {
  const r = fleetCli(s, ['ls', '--json'], env);
  if (r.code !== 0) throw new Error(`ls failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { hosts: ListedHost[] }).hosts;
};

describe('fleet CLI over NATS', () => {
  it('lists every host, sends to a VM on another host, reads its logs from the stream, and shows a killed host down', async () => {
    const s = await fleetOf({ h1: ['a1', 'a2'], h2: ['b1'] });
    await waitFor(() => hostsOf(s).filter((h) => h.status === 'up' && h.vms.every((v) => v.state === 'connected')).length === 2, 'both hosts up with connected VMs');
    const hosts = hostsOf(s);
    expect(hosts.map((h) => [h.host, h.vms.map((v) => v.name)])).toEqual([['h1', ['a1', 'a2']], ['h2', ['b1']]]);
    const table = fleetCli(s, ['ls']).stdout;
    expect(table).toMatch(/^HOST\s+STATUS/);
    expect(table).toMatch(/h2\s+up\s+\d+s ago\s+b1\s+connected/);

    expect(fleetCli(s, ['send', 'h2/b1:console', 'echo fleet-marker-7']).code).toBe(0);
    await waitFor(() => fleetCli(s, ['logs', 'h2/b1:console']).stdout.includes('fleet-marker-7'), 'the echo in the stream');
    expect(fleetCli(s, ['who', '--json', 'h2/b1:console']).code).toBe(0);
    // attach from "another machine": keystrokes over request/reply, the echo back from the stream.
    const att = fleetCli(s, ['attach', 'h1/a2'], {}, 'echo attached-round-trip\r');
    expect(att.code).toBe(0);
    expect(att.stdout).toContain('attached-round-trip');
    expect(fleetCli(s, ['attach', '--read-only', 'h1/a2'], {}, 'echo never-sent\r').code).toBe(0);
    expect(fleetCli(s, ['send', 'h2/nope:console', 'x']).code).toBe(4);
    expect(fleetCli(s, ['send', 'h9/b1:console', 'x']).code).toBe(3);
    expect(fleetCli(s, ['send', 'b1:console', 'x']).code).toBe(2);

    s.daemons.get('h2')!.child.kill('SIGKILL');
    // Down after 3 missed heartbeats (0.5 s each here).
    await waitFor(() => hostsOf(s).find((h) => h.host === 'h2')?.status === 'down', 'h2 shown down', 10_000);
    expect(hostsOf(s).find((h) => h.host === 'h1')?.status).toBe('up');
    expect(fleetCli(s, ['logs', 'h2/b1:console']).stdout).toContain('fleet-marker-7');
    expect(fleetCli(s, ['logs', 'h1/a2:console']).stdout).not.toContain('never-sent');
  }, 150_000);

  it('propagates a full backlog to the remote sender instead of dropping bytes', async () => {
    // No guest: nothing reads the port, so its 1 MiB backlog fills.
    const s = await fleetOf({ h1: ['ghost'] }, '', undefined, false);
    await waitFor(() => hostsOf(s).length === 1, 'h1 in the inventory');
    const chunk = 'x'.repeat(600_000);
    expect(fleetCli(s, ['send', 'h1/ghost:org.test.data', '-'], {}, chunk).code).toBe(0);
    const r = fleetCli(s, ['send', '--json', 'h1/ghost:org.test.data', '-'], {}, chunk);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('backlog is full');
    const sent = JSON.parse(r.stdout) as { accepted: number; bytes: number };
    expect(sent.accepted).toBeLessThan(sent.bytes);
    // What the sender was told is what the port holds: nothing queued beyond it, nothing lost.
    await waitFor(() => hostsOf(s)[0]?.vms[0]?.ports.find((p) => p.name === 'org.test.data')?.backlog === 600_000 + sent.accepted, 'the backlog in the inventory');
  }, 60_000);
});
