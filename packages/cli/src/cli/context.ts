// Shared per-invocation state for commands: the control socket to use and a connected client.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultControlSocket, defaultRuntimeDir } from '../config/paths.js';
import { ControlClient } from '../control/client.js';

export interface GlobalOptions {
  socket?: string;
  color?: boolean;
}

/** Where a running `vtcon demo` records its control socket, so that other terminals find it. */
export function demoRecordPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultRuntimeDir(env), 'demo.json');
}

export interface DemoRecord { pid: number; control: string; runtimeDir: string }

/** The running demo's record: its process is alive and its control socket exists. */
export function runningDemo(env: NodeJS.ProcessEnv = process.env): DemoRecord | undefined {
  let rec: Partial<DemoRecord>;
  try {
    rec = JSON.parse(readFileSync(demoRecordPath(env), 'utf8')) as Partial<DemoRecord>;
  } catch {
    return undefined; // no demo (or a record cut short): nothing to find
  }
  if (typeof rec.pid !== 'number' || typeof rec.control !== 'string' || typeof rec.runtimeDir !== 'string') return undefined;
  try {
    process.kill(rec.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  return existsSync(rec.control) ? (rec as DemoRecord) : undefined;
}

/**
 * --socket, else $VTCON_SOCKET, else the default control socket when a daemon made it, else a
 * running demo's (so `vtcon attach demo1` works from a second terminal without an export).
 */
export function controlSocket(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return opts.socket;
  const socket = defaultControlSocket(env);
  if (env.VTCON_SOCKET || existsSync(socket)) return socket;
  return runningDemo(env)?.control ?? socket;
}

export async function withClient<T>(opts: GlobalOptions, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(controlSocket(opts));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
