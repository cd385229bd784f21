// Test support for fleet tests: the built `vtcon serve` with a `fleet:` section, and a guest port
// driven from the test process (the seed driver model over the daemon's real vhost-user socket).
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnGuests, spawnServe, vmYaml, type ServeChild } from './binary.js';

export interface FleetDaemon extends ServeChild { control: string }

export function fleetConfig(dir: string, host: string, natsUrl: string, vms: { name: string; ports: { name: string; console?: boolean }[] }[], auth?: { user: string; password: string }): string {
  const path = join(dir, `${host}.yaml`);
  const hostDir = join(dir, host);
  writeFileSync(path, `daemon:\n  control: ${join(hostDir, 'control.sock')}\n  runtimeDir: ${hostDir}\n`
    + `fleet:\n  host: ${host}\n  heartbeatSeconds: 0.5\n  nats: { servers: "${natsUrl}"${auth ? `, auth: { user: ${auth.user}, password: ${auth.password} }` : ''} }\n`
    + `vms:\n${vms.map((v) => vmYaml(hostDir, v.name, v.ports)).join('')}`);
  return path;
}

export async function startFleetDaemon(configPath: string, dir: string): Promise<FleetDaemon> {
  const d = await spawnServe(configPath, dir, (err) => err.includes('daemon ready'), 'the daemon to start');
  const control = /"control":"([^"]+)"/.exec(d.stderr())?.[1] ?? '';
  return { ...d, control };
}

/** `vtcon guest` (simulated guests that echo, as a shell would) on a fleet host's VM sockets. */
export async function startGuests(dir: string, host: string, vms: string[]): Promise<ChildProcess> {
  const g = spawnGuests(vms.map((n) => `${n}=${join(dir, host, n + '.vhost.sock')}`));
  await g.connected;
  return g.child;
}

