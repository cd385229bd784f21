// Where a target command goes: the local control socket (VM:PORT), or with --nats URL /
// $VTCON_NATS / `fleet:` in the client config a host's control service over NATS
// (HOST/VM:PORT). NATS (and the client config's parser) is loaded only in the second case, so
// the single-host CLI starts as before.
import { existsSync } from 'node:fs';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { parseTarget, type Target } from '../cli/target.js';
import { clientConfigPath } from '../config/paths.js';
import { CliError } from '../errors.js';
import { cliNatsConfig, type FleetNats } from './cli-nats.js';
import type { ControlOp } from './names.js';
import { parseFleetTarget } from './names.js';

export interface FleetGlobalOptions extends GlobalOptions { nats?: string }

/**
 * Fleet mode's NATS, or undefined for the local daemon: --nats URL, else $VTCON_NATS, else the
 * client config's `fleet.nats` unless --socket / $VTCON_SOCKET ask for a local daemon.
 */
export async function fleetNats(g: FleetGlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<FleetNats | undefined> {
  const url = g.nats ?? (env.VTCON_NATS || undefined);
  if (url) return { nats: cliNatsConfig(url, env), label: url };
  if (g.socket || env.VTCON_SOCKET) return undefined;
  const file = clientConfigPath(env);
  if (!existsSync(file)) return undefined;
  return (await import('./client-config.js')).fileNats(file, env);
}

export interface HostTarget extends Target { host: string }

export function parseHostTarget(arg: string, requirePort: boolean): HostTarget {
  const t = parseFleetTarget(arg);
  if (!t) throw new CliError('USAGE', `"${arg}" is not HOST/VM or HOST/VM:PORT`, { hint: 'with --nats, targets name their host: `web-host1/web1:console`; list them with `vtcon --nats URL ls`' });
  if (requirePort && !t.port) throw new CliError('USAGE', `"${arg}" needs a port: HOST/VM:PORT`);
  return t;
}

/** Local method name → fleet control op. */
const OPS: Record<string, ControlOp> = { send: 'send', break: 'break', who: 'who', resize: 'resize', logs: 'logs', 'attach.info': 'port-info', 'port.add': 'port-add', 'port.remove': 'port-remove' };

/** Runs `method` for the target on the local daemon or, in fleet mode, on the target's host. */
export async function callTarget<T>(g: FleetGlobalOptions, arg: string, requirePort: boolean, method: string, params: (t: Target) => Record<string, unknown>): Promise<{ t: Target; label: string; r: T }> {
  const url = await fleetNats(g);
  if (!url) {
    const t = parseTarget(arg, requirePort);
    return { t, label: `${t.vm}:${t.port}`, r: await withClient(g, (cl) => cl.call<T>(method, params(t))) };
  }
  const t = parseHostTarget(arg, requirePort);
  const { withFleet } = await import('./client.js');
  const p = params(t);
  // send --wait answers after its own timeout; give the request that much more.
  const timeoutMs = typeof p.timeoutMs === 'number' ? p.timeoutMs + 5000 : 5000;
  const r = await withFleet(url, (f) => f.call<T>(t.host, OPS[method]!, p, timeoutMs));
  return { t, label: `${t.host}/${t.vm}:${t.port}`, r };
}
