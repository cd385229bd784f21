// Where the fleet CLI finds NATS: --nats URL, else $VTCON_NATS, else the `fleet.nats` section of
// the client config file (servers, auth, TLS; a daemon's own config file works as well, its other
// sections are ignored). Credentials in the environment override the file's; never argv.
import { z } from 'zod';
import { parseYamlWith, readConfigText } from '../config/load.js';
import { natsSchema, type NatsConfig } from './config.js';

/** Only `fleet.nats` is read; other keys are left alone so a daemon config can be pointed at. */
export const clientConfigSchema = z.object({ fleet: z.object({ nats: natsSchema }).optional() });

/** How the CLI reaches NATS, and what to call it in messages. */
export interface FleetNats { nats: NatsConfig; label: string }

export function envAuth(env: NodeJS.ProcessEnv): NatsConfig['auth'] {
  return env.VTCON_NATS_USER ? { user: env.VTCON_NATS_USER, password: env.VTCON_NATS_PASSWORD ?? '' }
    : env.VTCON_NATS_TOKEN ? { token: env.VTCON_NATS_TOKEN }
    : env.VTCON_NATS_CREDS ? { credsFile: env.VTCON_NATS_CREDS }
    : env.VTCON_NATS_NKEY ? { nkeySeedFile: env.VTCON_NATS_NKEY } : undefined;
}

/** --nats URL or $VTCON_NATS: comma-separated servers, credentials from the environment. */
export function cliNatsConfig(url: string, env: NodeJS.ProcessEnv = process.env): NatsConfig {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  const auth = envAuth(env);
  return { servers, ...(auth ? { auth } : {}) };
}

/** The client config file's NATS settings; undefined when the file has no `fleet:` section. */
export function fileNats(file: string, env: NodeJS.ProcessEnv = process.env): FleetNats | undefined {
  const nats = parseYamlWith(clientConfigSchema, readConfigText(file), file).fleet?.nats;
  if (!nats) return undefined;
  const auth = envAuth(env) ?? nats.auth;
  const servers = Array.isArray(nats.servers) ? nats.servers : [nats.servers];
  return { nats: { ...nats, ...(auth ? { auth } : {}) }, label: `${servers.join(',')} (from ${file})` };
}
