// A process's memory and CPU from /proc, for benchmarks that measure a daemon from outside
// (holder/takeover-bench.mjs, console/readers-bench.mjs).
import { readFileSync } from 'node:fs';

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
 * utime + stime of every thread of the process, in seconds (USER_HZ = 100).
 * @param {number} pid
 */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(r[11]) + Number(r[12])) / 100;
}
