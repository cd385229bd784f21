// A process's memory and CPU from /proc, for benchmarks that measure a daemon from outside
// (holder/takeover-bench.mjs, console/readers-bench.mjs, fleet/fleet-rig.mjs).
import { readdirSync, readFileSync } from 'node:fs';

/**
 * A `kB` field of /proc/<pid>/status (VmRSS, RssAnon, ...) in bytes; 0 when absent.
 * @param {number} pid
 * @param {string} key
 */
export function statusBytes(pid, key) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return Number(m?.[1] ?? 0) * 1024;
}

/**
 * The fields after the command name of /proc/<pid>/stat (field 3 first), or null once it is gone.
 * @param {number | string} pid
 */
function statFields(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime (fields 14, 15) in seconds (USER_HZ = 100). @param {string[]} f */
const cpuOf = (f) => (Number(f[11]) + Number(f[12])) / 100;

/**
 * utime + stime of every thread of the process, in seconds.
 * @param {number} pid
 */
export function cpuSeconds(pid) {
  const f = statFields(pid);
  if (!f) throw new Error(`no process ${pid}`);
  return cpuOf(f);
}

/**
 * utime + stime of `pid` and every live descendant (e.g. `vtcon serve`: a holder and its engines),
 * in seconds.
 * @param {number} pid
 */
export function treeCpuSeconds(pid) {
  const parentOf = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(e);
    if (f) parentOf.set(Number(e), { ppid: Number(f[1]), s: cpuOf(f) });
  }
  const inTree = (p) => { for (let q = p; q > 1; q = parentOf.get(q)?.ppid ?? 0) if (q === pid) return true; return false; };
  let s = 0;
  for (const [p, { s: t }] of parentOf) if (inTree(p)) s += t;
  return s;
}
