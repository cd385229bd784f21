// Starting the web console for a daemon, the one way `vtcon web`, `vtcon serve` (web: section)
// and `vtcon demo --web` all do it: tokens from the config and/or the token file (created 0600
// with fresh tokens when missing), then the server.
import { dirname, join } from 'node:path';
import { Auth, loadOrCreateTokenFile, type WebToken } from './auth.js';
import { startWebServer, type WebServer } from './server.js';
import type { WebConfig } from './web-config.js';

export interface WebLaunch {
  server: WebServer;
  /** The token file used (null when only config tokens are used). */
  tokenFile: string | null;
  /** true when this launch created the token file. */
  created: boolean;
  /** The first write token, for the demo to print. */
  writeToken: string | null;
}

/** Default token file: next to the daemon's control socket (its runtime dir, mode 0700). */
export function defaultTokenFile(controlPath: string): string {
  return join(dirname(controlPath), 'web-tokens');
}

export async function launchWeb(config: WebConfig, controlPath: string): Promise<WebLaunch> {
  const tokens: WebToken[] = [...(config.tokens ?? [])];
  let tokenFile: string | null = null;
  let created = false;
  // A token file is used when named, or when the config lists no tokens at all.
  if (config.tokenFile || tokens.length === 0) {
    tokenFile = config.tokenFile ?? defaultTokenFile(controlPath);
    const r = loadOrCreateTokenFile(tokenFile);
    tokens.push(...r.tokens);
    created = r.created;
  }
  const server = await startWebServer({ config, controlPath, auth: new Auth(tokens) });
  return { server, tokenFile, created, writeToken: tokens.find((t) => t.role === 'write')?.token ?? null };
}
