// One NATS connection from a `fleet.nats` config (daemon, or the CLI's: client-config.ts).
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
