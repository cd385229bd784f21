// Captures where a run happened — machine, Node, @vtcon package versions, git commit — so a number
// in the history can be traced to the hardware and code that produced it. Every probe degrades to
// a null/"unknown" value instead of failing the run (no git in a tarball, no /proc on macOS).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * CPU model from /proc/cpuinfo ('model name', or 'Model'/'Hardware' on some ARM kernels).
 * @returns {string}
 */
export function cpuModel() {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const m = /^(?:model name|Model|Hardware)\s*:\s*(.+)$/m.exec(text);
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall through to os.cpus()
  }
  return os.cpus()[0]?.model?.trim() || 'unknown';
}

/** @returns {import('./schema.mjs').MachineInfo} */
export function machineInfo() {
  return {
    cpuModel: cpuModel(),
    // availableParallelism honours cgroup/affinity limits where os.cpus() does not.
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    memoryBytes: os.totalmem(),
    platform: os.platform(),
    arch: os.arch(),
    kernel: os.release(),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * Versions of the @vtcon/* workspace packages, read from their package.json.
 * @param {string} repoRoot
 * @returns {Record<string, string>}
 */
export function vtconPackageVersions(repoRoot) {
  /** @type {Record<string, string>} */
  const out = {};
  const dirs = [];
  const pkgs = path.join(repoRoot, 'packages');
  if (existsSync(pkgs)) for (const d of readdirSync(pkgs)) dirs.push(path.join(pkgs, d));
  dirs.push(path.join(repoRoot, 'benchmarks'));
  for (const dir of dirs) {
    try {
      const pj = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (typeof pj.name === 'string' && pj.name.startsWith('@vtcon/')) out[pj.name] = String(pj.version);
    } catch {
      // a folder without package.json is not a package
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * HEAD commit and whether the work tree has uncommitted changes (a dirty run's numbers belong to
 * code that no commit holds, so the dashboard marks them).
 * @param {string} repoRoot
 * @returns {{commit: string|null, dirty: boolean|null}}
 */
export function gitState(repoRoot) {
  const git = (args) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  let commit = null;
  let dirty = null;
  try {
    commit = git(['rev-parse', 'HEAD']);
  } catch {
    return { commit: null, dirty: null };
  }
  try {
    // Results and the rendered page change on every run; they do not make the measured code dirty.
    dirty = git(['status', '--porcelain', '--', '.', ':(exclude)benchmarks/results', ':(exclude)benchmarks/dashboard/out']) !== '';
  } catch {
    dirty = null;
  }
  return { commit, dirty };
}
