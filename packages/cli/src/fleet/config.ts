// The optional `fleet:` section of a daemon config: where NATS is, how to authenticate, what this
// host is called, and the output stream's limits. Absent: the daemon runs single-host, no NATS.
import { hostname } from 'node:os';
import { z } from 'zod';
import { isValidName, NAME_RULE } from '../config/names.js';

/** Host, VM and port names share one rule (config/names.ts); a host name becomes a subject token. */
export const hostName = z.string().refine(isValidName, `must be ${NAME_RULE}`);

export const natsSchema = z.strictObject({
  /** nats://host:port, one or several (a cluster's seed list). */
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  auth: z.union([
    z.strictObject({ user: z.string().min(1), password: z.string() }),
    z.strictObject({ token: z.string().min(1) }),
    z.strictObject({ nkeySeedFile: z.string().min(1) }),
    z.strictObject({ credsFile: z.string().min(1) }),
  ]).optional(),
  tls: z.strictObject({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() }).optional(),
});

export const outputStreamSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('VTCON_OUT'),
  replicas: z.number().int().min(1).max(5).default(1),
  /** Like conserver's logfilemax, but for the whole fleet's stream; oldest messages go first. */
  maxBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
  /** Seconds a message is kept; 0 = no age limit. */
  maxAgeSeconds: z.number().int().min(0).default(30 * 86400),
});

export const fleetSchema = z.strictObject({
  nats: natsSchema,
  /** This daemon's name in the fleet; defaults to the machine's hostname (dots kept). */
  host: hostName.optional(),
  stream: outputStreamSchema.prefault({}),
  /** Inventory heartbeat period; a host is shown down after 3 missed heartbeats. */
  heartbeatSeconds: z.number().min(0.2).max(300).default(5),
});

export type FleetConfig = z.infer<typeof fleetSchema>;
export type NatsConfig = z.infer<typeof natsSchema>;
export type OutputStreamConfig = z.infer<typeof outputStreamSchema>;

export function hostOf(cfg: FleetConfig): string {
  if (cfg.host) return cfg.host;
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return isValidName(h) ? h : `h${h}`.slice(0, 64);
}
