// One NATS connection from a `fleet.nats` config (daemon) or from --nats / $VTCON_NATS* (CLI).
// Reconnects forever: a NATS outage pauses fleet publishing, it never stops the daemon.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConfig } from './config.js';

export function connectionOptions(cfg: NatsConfig, name: string): NodeConnectionOptions {
  const opts: NodeConnectionOptions = { servers: cfg.servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 500 };
  const a = cfg.auth;
  if (a && 'user' in a) Object.assign(opts, { user: a.user, pass: a.password });
  else if (a && 'token' in a) opts.token = a.token;
  else if (a && 'nkeySeedFile' in a) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(a.nkeySeedFile, 'utf8').trim()));
  else if (a && 'credsFile' in a) opts.authenticator = credsAuthenticator(readFileSync(a.credsFile));
  if (cfg.tls) {
    opts.tls = {
      ...(cfg.tls.caFile ? { caFile: cfg.tls.caFile } : {}),
      ...(cfg.tls.certFile ? { certFile: cfg.tls.certFile } : {}),
      ...(cfg.tls.keyFile ? { keyFile: cfg.tls.keyFile } : {}),
    };
  }
  return opts;
}

export function connectNats(cfg: NatsConfig, name: string, opts: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ ...connectionOptions(cfg, name), ...opts });
}

/** The CLI's NATS settings: --nats URL or $VTCON_NATS, credentials from the environment only. */
export function cliNatsConfig(url: string, env: NodeJS.ProcessEnv = process.env): NatsConfig {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  const auth = env.VTCON_NATS_USER ? { user: env.VTCON_NATS_USER, password: env.VTCON_NATS_PASSWORD ?? '' }
    : env.VTCON_NATS_TOKEN ? { token: env.VTCON_NATS_TOKEN }
    : env.VTCON_NATS_CREDS ? { credsFile: env.VTCON_NATS_CREDS }
    : env.VTCON_NATS_NKEY ? { nkeySeedFile: env.VTCON_NATS_NKEY } : undefined;
  return { servers, ...(auth ? { auth } : {}) };
}
