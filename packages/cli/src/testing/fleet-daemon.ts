// Test support for fleet tests: the built `vtcon serve` with a `fleet:` section, and a guest port
// driven from the test process (the seed driver model over the daemon's real vhost-user socket).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectGuest, type VtconDriver } from '@vtcon/console/testing';
import { BIN, vmYaml, waitFor } from './binary.js';

export interface FleetDaemon { child: ChildProcess; exited: Promise<number | null>; stderr(): string; control: string }

export function fleetConfig(dir: string, host: string, natsUrl: string, vms: { name: string; ports: { name: string; console?: boolean }[] }[], auth?: { user: string; password: string }): string {
  const path = join(dir, `${host}.yaml`);
  const hostDir = join(dir, host);
  writeFileSync(path, `daemon:\n  control: ${join(hostDir, 'control.sock')}\n  runtimeDir: ${hostDir}\n`
    + `fleet:\n  host: ${host}\n  heartbeatSeconds: 0.5\n  nats: { servers: "${natsUrl}"${auth ? `, auth: { user: ${auth.user}, password: ${auth.password} }` : ''} }\n`
    + `vms:\n${vms.map((v) => vmYaml(hostDir, v.name, v.ports)).join('')}`);
  return path;
}

export async function startFleetDaemon(configPath: string, dir: string): Promise<FleetDaemon> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: join(dir, 'state') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(() => err.includes('daemon ready') || child.exitCode !== null, 'the daemon to start');
  if (child.exitCode !== null) throw new Error(`vtcon serve exited: ${err}`);
  const control = /"control":"([^"]+)"/.exec(err)?.[1] ?? '';
  return { child, exited, stderr: () => err, control };
}

/** `vtcon guest` (simulated guests that echo, as a shell would) on a fleet host's VM sockets. */
export async function startGuests(dir: string, host: string, vms: string[]): Promise<ChildProcess> {
  const g = spawn(process.execPath, [BIN, 'guest', ...vms.map((n) => `${n}=${join(dir, host, n + '.vhost.sock')}`)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  g.stderr!.setEncoding('utf8').on('data', (x: string) => (err += x));
  await waitFor(() => err.includes('connected') || g.exitCode !== null, 'simulated guests to connect');
  if (g.exitCode !== null) throw new Error(`vtcon guest exited: ${err}`);
  return g;
}

export interface GuestPort { driver: VtconDriver; write(b: Uint8Array): Promise<void> }

export async function guestPort(socket: string, name: string): Promise<GuestPort> {
  const { driver } = await connectGuest(socket, { txChunk: 4096 });
  await waitFor(() => driver.portByName(name), `port ${name} in the guest`);
  const p = driver.portByName(name)!;
  if (!p.console) await p.open();
  return { driver, write: (b) => p.write(b) };
}
