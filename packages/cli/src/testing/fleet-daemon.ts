// Test support for fleet tests: the built `vtcon serve` with a `fleet:` section, and a guest port
// driven from the test process (the seed driver model over the daemon's real vhost-user socket).
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { readOutput } from '../fleet/output-reader.js';
import { spawnGuests, spawnServe, vmYaml, type ServeChild } from './binary.js';

export interface FleetDaemon extends ServeChild { control: string }

/**
 * `servers`: one URL or a cluster's seed list; `fleetExtra`: more `fleet:` lines (indented 2);
 * `heartbeatSeconds`: short so tests see a host go down quickly.
 */
export function fleetConfig(dir: string, host: string, servers: string | string[], vms: { name: string; ports: { name: string; console?: boolean }[] }[], auth?: { user: string; password: string }, fleetExtra = '', heartbeatSeconds = 0.5): string {
  const path = join(dir, `${host}.yaml`);
  const hostDir = join(dir, host);
  writeFileSync(path, `daemon:\n  control: ${join(hostDir, 'control.sock')}\n  runtimeDir: ${hostDir}\n`
    + `fleet:\n  host: ${host}\n  heartbeatSeconds: ${heartbeatSeconds}\n${fleetExtra}  nats: { servers: ${JSON.stringify(servers)}${auth ? `, auth: { user: ${auth.user}, password: ${auth.password} }` : ''} }\n`
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


/** A port's log file under a fleetConfig host dir (the source of truth the stream must equal). */
export const portLog = (dir: string, host: string, vm: string, port: string): string => join(dir, host, 'logs', vm, `${port}.log`);

/** A subject's bytes in the output stream; throws if a message does not start where the last ended. */
export async function streamed(servers: string | string[], subject: string, stream = 'VTCON_OUT'): Promise<Buffer> {
  const nc = await connect({ servers });
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for await (const c of readOutput(nc, stream, subject)) {
      if (c.offset !== total) throw new Error(`${subject}: message at offset ${c.offset}, expected ${total}: a gap or a duplicate`);
      parts.push(Buffer.from(c.data));
      total += c.data.length;
    }
    return Buffer.concat(parts);
  } finally {
    await nc.close();
  }
}
