// VM[:PORT] arguments. The port defaults to the VM's console port (or its first port) when the
// command allows it.
import { CliError } from '../errors.js';

export interface Target {
  vm: string;
  port: string | undefined;
}

export function parseTarget(arg: string, requirePort: boolean): Target {
  const m = /^([^:\s]+)(?::([^:\s]+))?$/.exec(arg);
  if (!m) throw new CliError('USAGE', `"${arg}" is not VM or VM:PORT`, { hint: 'for example `web1:console`; list them with `vtcon ls`' });
  if (requirePort && !m[2]) throw new CliError('USAGE', `"${arg}" needs a port: VM:PORT`, { hint: `for example \`${m[1]}:console\`; list ports with \`vtcon ls\`` });
  return { vm: m[1]!, port: m[2] };
}

export function parseSize(arg: string): { cols: number; rows: number } {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(arg);
  const cols = Number(m?.[1]);
  const rows = Number(m?.[2]);
  if (!m || cols < 1 || rows < 1 || cols > 65535 || rows > 65535) throw new CliError('USAGE', `"${arg}" is not COLSxROWS`, { hint: 'for example `vtcon resize web1:console 120x40`' });
  return { cols, rows };
}

/** --since: an ISO time, or a duration ago such as 30s, 5m, 2h, 1d. */
export function parseSince(arg: string, now = Date.now()): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(arg);
  if (m) {
    const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(m[1]) * mult;
  }
  const t = Date.parse(arg);
  if (Number.isNaN(t)) throw new CliError('USAGE', `--since "${arg}" is neither a duration (30s, 5m, 2h) nor a date`, { hint: 'for example `--since 10m` or `--since 2026-01-01T12:00:00Z`' });
  return t;
}
