// The holder's status file (daemon/holder-main.ts writes it beside the control socket): what the
// CLI can still say when the engine does not answer, and what `vtcon upgrade` watches.
import { readFileSync } from 'node:fs';
import type { HolderStatus } from '@vtcon/transport';

/** `<control socket>.holder.json`. */
export function holderStatusPath(controlPath: string): string {
  return `${controlPath}.holder.json`;
}

/** The status of a live holder for this control socket, or null (none, or its process is gone). */
export function readHolderStatus(controlPath: string): HolderStatus | null {
  let s: HolderStatus;
  try {
    s = JSON.parse(readFileSync(holderStatusPath(controlPath), 'utf8')) as HolderStatus;
  } catch {
    return null;
  }
  if (typeof s?.holderPid !== 'number') return null;
  try {
    process.kill(s.holderPid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return null;
  }
  return s;
}

/** One line for people: why the engine does not answer, and that the VMs' connections are kept. */
export function engineDownHint(s: HolderStatus): string {
  const held = s.vms.filter((v) => v.connected).length;
  const state = s.engineState === 'down'
    ? 'the engine is down (crash loop: the holder stopped restarting it; `vtcon upgrade` starts one)'
    : `the engine is ${s.engineState === 'starting' ? 'starting' : 'restarting'}`;
  return `${state}; the holder (pid ${s.holderPid}) keeps ${held} of ${s.vms.length} VM connection(s)`
    + `${s.restarts ? `; ${s.restarts} engine restart(s), last: ${s.lastExit ?? '?'}` : ''}`;
}
