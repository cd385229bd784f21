// Where the fleet CLI finds NATS: --nats URL, else $VTCON_NATS, else the `fleet.nats` section of
// the client config file (servers, auth, TLS; a daemon's own config file works as well, its other
// sections are ignored). Credentials in the environment override the file's; never argv.
import { z } from 'zod';
import { parseYamlWith, readConfigText } from '../config/load.js';
import { natsSchema } from './config.js';
import { envAuth, type FleetNats } from './cli-nats.js';

/** Only `fleet.nats` is read; other keys are left alone so a daemon config can be pointed at. */
export const clientConfigSchema = z.object({ fleet: z.object({ nats: natsSchema }).optional() });

/** The client config file's NATS settings; undefined when the file has no `fleet:` section. */
export function fileNats(file: string, env: NodeJS.ProcessEnv = process.env): FleetNats | undefined {
  const nats = parseYamlWith(clientConfigSchema, readConfigText(file), file).fleet?.nats;
  if (!nats) return undefined;
  const auth = envAuth(env) ?? nats.auth;
  const servers = Array.isArray(nats.servers) ? nats.servers : [nats.servers];
  return { nats: { ...nats, ...(auth ? { auth } : {}) }, label: `${servers.join(',')} (from ${file})` };
}
