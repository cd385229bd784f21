// The CLI's NATS settings from --nats URL / $VTCON_NATS, credentials from the environment only.
// Kept free of the config parser (zod, yaml) so `vtcon --nats URL …` starts without it.
import type { NatsConfig } from './config.js';

/** How the CLI reaches NATS, and what to call it in messages. */
export interface FleetNats { nats: NatsConfig; label: string }

/** NATS credentials from $VTCON_NATS_USER/_PASSWORD, _TOKEN, _CREDS or _NKEY (never argv). */
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
