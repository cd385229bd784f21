// Default filesystem locations. The runtime dir holds sockets (control, attach); the state dir
// holds log files. Both follow XDG when set and fall back to a per-user /tmp directory, so a
// non-root user can run the daemon without touching /run.
import { chmodSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VTCON_RUNTIME_DIR) return env.VTCON_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'vtcon');
  return `/tmp/vtcon-${process.getuid?.() ?? 0}`;
}

export function defaultControlSocket(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VTCON_SOCKET) return env.VTCON_SOCKET;
  return join(defaultRuntimeDir(env), 'control.sock');
}

export function defaultLogDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'vtcon', 'logs');
  return join(defaultRuntimeDir(env), 'logs');
}

/** Where a port's attach socket lives: <runtime dir>/<vm>/<port>.sock. */
export function attachSocketPath(runtimeDir: string, vm: string, port: string): string {
  return join(runtimeDir, vm, `${port}.sock`);
}

/**
 * mkdir -p with every directory it creates mode 0700, whatever the umask (mkdir's mode is masked
 * by it, so each created directory is chmod-ed). Existing directories are left as they are.
 */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let d = dir; d.length >= first.length; d = join(d, '..')) {
    chmodSync(d, 0o700);
    if (d === first) break;
  }
}

/**
 * The CLI's own config (today only `fleet: { nats }`, so `vtcon ls` finds the fleet without
 * --nats): $VTCON_CLIENT_CONFIG, else $XDG_CONFIG_HOME/vtcon/client.yaml, else ~/.config/….
 */
export function clientConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VTCON_CLIENT_CONFIG) return env.VTCON_CLIENT_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'vtcon', 'client.yaml');
}
