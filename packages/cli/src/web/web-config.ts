// The `web:` config section (vtcon serve hosts the web console when it is present). Defaults are
// the safe ones: loopback only, no TLS, a token file. The web layer's startup problems are
// CliErrors (errors.ts): the token file and TLS files are config, so CONFIG_* reasons.
import { z } from 'zod';
import { CliError } from '../errors.js';

export const webTokenSchema = z.strictObject({
  /** Long enough that guessing is hopeless even without the login rate limit. */
  token: z.string().min(16).max(256),
  /** read: watch consoles and logs; write: also type, resize and send break. */
  role: z.enum(['read', 'write']),
});

export const webSchema = z.strictObject({
  /** HOST:PORT to bind; loopback by default. Binding elsewhere is the operator's explicit choice. */
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be HOST:PORT').default('127.0.0.1:8080'),
  /** Token file ("read <token>" / "write <token>" lines, mode 0600); created with fresh tokens if absent. */
  tokenFile: z.string().min(1).optional(),
  /** Tokens from the config itself (instead of, or besides, the token file). */
  tokens: z.array(webTokenSchema).max(1000).optional(),
  /** Serve HTTPS with these PEM files; the session cookie then gets Secure. */
  tls: z.strictObject({ key: z.string().min(1), cert: z.string().min(1) }).optional(),
  /**
   * Origins a page may come from (WebSocket upgrades and POSTs check it, every request checks
   * Host against it: DNS rebinding). Default: this listen address, plus localhost on loopback.
   */
  origins: z.array(z.url()).max(64).optional(),
  /** Login attempts per client address per minute. */
  loginPerMinute: z.number().int().min(1).max(1000).default(10),
});

export type WebConfig = z.infer<typeof webSchema>;
export type WebRole = z.infer<typeof webTokenSchema>['role'];

/** Splits HOST:PORT ("[::1]:8080" too); port 0 asks the kernel for a free one. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new CliError('USAGE', `listen address ${JSON.stringify(listen)}: expected HOST:PORT with a port up to 65535, e.g. 127.0.0.1:8080`);
  return { host: m[1] ?? m[2]!, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
