// The on-disk format of one benchmark run (benchmarks/results/run-<ISO>.json) and its validator.
//
// Why a hand-written validator rather than zod: the dashboard reads files written by older runs,
// possibly by older versions of this runner, and must say *which field* of *which file* is wrong
// instead of dropping the file silently; a plain function with a list of error paths does that
// with no dependency. Bump RUN_SCHEMA_VERSION on any incompatible change and keep reading the old
// versions in dashboard/build.mjs.

/** Current version written into every run file. */
export const RUN_SCHEMA_VERSION = 1;

/**
 * One measured case, as returned by a suite (`runRingBench({quick})` etc.) and stored in a run.
 * Every statistic is optional because suites measure different things: throughput cases carry
 * `opsPerSec`/`bytesPerSec`, latency cases `p50Ns`/`p99Ns`, one-off measurements `value`+`unit`.
 * @typedef {object} CaseResult
 * @property {string} suite        suite that produced it ('ring', 'transport', 'console', ...)
 * @property {string} name         case name, unique within the suite for the same params
 * @property {Record<string, string|number|boolean>} params  e.g. {bytes: 4096, batch: 64, guests: 8, ports: 256, workers: 2}
 * @property {number} [opsPerSec]  operations (chains, messages, keystrokes) per second
 * @property {number} [bytesPerSec] payload bytes per second
 * @property {number} [meanNs]     mean latency / time per operation, nanoseconds
 * @property {number} [p50Ns]      median, nanoseconds
 * @property {number} [p99Ns]      99th percentile, nanoseconds
 * @property {number} [samples]    number of samples behind the statistics
 * @property {{name: string, opsPerSec: number}} [baseline]  the reference measured in the same run (e.g. the C ring)
 * @property {number} [ratio]      opsPerSec / baseline.opsPerSec (the runner fills it in when a suite gives only the baseline)
 * @property {string} [unit]       unit of `value` (e.g. 'bytes', 'bytes/vm', 'x')
 * @property {number} [value]      a single measured number that is none of the above
 */

/**
 * What happened to one suite in a run. 'not-available' means its module or export is missing
 * (not written yet, or broken import); 'failed' means it threw while running.
 * @typedef {object} SuiteStatus
 * @property {string} name
 * @property {'ok'|'not-available'|'failed'} status
 * @property {string} [error]      message when not ok
 * @property {number} durationMs
 * @property {number} cases        number of cases it returned
 */

/**
 * @typedef {object} MachineInfo
 * @property {string} cpuModel     'model name' from /proc/cpuinfo (os.cpus()[0].model elsewhere)
 * @property {number} cores        logical CPUs available to the process
 * @property {number} memoryBytes  total RAM
 * @property {string} platform     os.platform()
 * @property {string} arch         os.arch()
 * @property {string} kernel       os.release()
 * @property {number[]} loadavg    1/5/15-minute load average when the run started (noise hint)
 */

/**
 * One run of `npm run bench`.
 * @typedef {object} RunRecord
 * @property {number} schemaVersion  RUN_SCHEMA_VERSION
 * @property {string} date           ISO 8601 start time
 * @property {boolean} quick         `--quick` (fewer samples; not comparable with full runs)
 * @property {MachineInfo} machine
 * @property {string} node           process.version
 * @property {Record<string, string>} packages  '@vtcon/<name>' → version
 * @property {{commit: string|null, dirty: boolean|null}} git
 * @property {SuiteStatus[]} suites
 * @property {CaseResult[]} cases
 */

const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNum = (v) => typeof v === 'number' && Number.isFinite(v);

const OPTIONAL_NON_NEGATIVE = ['opsPerSec', 'bytesPerSec', 'meanNs', 'p50Ns', 'p99Ns', 'samples', 'ratio'];

/**
 * Checks one case result. Returns the list of problems (empty when valid), each prefixed by `path`.
 * @param {unknown} c
 * @param {string} [path]
 * @returns {string[]}
 */
export function validateCase(c, path = 'case') {
  const errors = [];
  if (!isObj(c)) return [`${path}: not an object`];
  if (typeof c.suite !== 'string' || c.suite === '') errors.push(`${path}.suite: non-empty string required`);
  if (typeof c.name !== 'string' || c.name === '') errors.push(`${path}.name: non-empty string required`);
  if (!isObj(c.params)) {
    errors.push(`${path}.params: object required`);
  } else {
    for (const [k, v] of Object.entries(c.params)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) errors.push(`${path}.params.${k}: string, number or boolean required`);
    }
  }
  for (const key of OPTIONAL_NON_NEGATIVE) {
    if (c[key] !== undefined && !(isFiniteNum(c[key]) && c[key] >= 0)) {
      errors.push(`${path}.${key}: finite number ≥ 0 required, got ${JSON.stringify(c[key])}`);
    }
  }
  if (c.value !== undefined && !isFiniteNum(c.value)) errors.push(`${path}.value: finite number required`);
  if (c.unit !== undefined && typeof c.unit !== 'string') errors.push(`${path}.unit: string required`);
  if (c.value !== undefined && c.unit === undefined) errors.push(`${path}.unit: required when value is given`);
  if (c.baseline !== undefined) {
    if (!isObj(c.baseline) || typeof c.baseline.name !== 'string' || !(isFiniteNum(c.baseline.opsPerSec) && c.baseline.opsPerSec > 0)) {
      errors.push(`${path}.baseline: {name: string, opsPerSec: number > 0} required`);
    }
  }
  if (c.ratio !== undefined && c.baseline === undefined) errors.push(`${path}.ratio: needs the baseline it was measured against`);
  const measured = ['opsPerSec', 'bytesPerSec', 'meanNs', 'p50Ns', 'p99Ns', 'value'].some((k) => c[k] !== undefined);
  if (!measured) errors.push(`${path}: no statistic (opsPerSec, bytesPerSec, meanNs, p50Ns, p99Ns or value)`);
  return errors;
}

/**
 * Checks a whole run record. Returns the list of problems (empty when valid).
 * @param {unknown} run
 * @returns {string[]}
 */
export function validateRun(run) {
  const errors = [];
  if (!isObj(run)) return ['run: not an object'];
  if (run.schemaVersion !== RUN_SCHEMA_VERSION) errors.push(`schemaVersion: expected ${RUN_SCHEMA_VERSION}, got ${JSON.stringify(run.schemaVersion)}`);
  if (typeof run.date !== 'string' || Number.isNaN(Date.parse(run.date))) errors.push('date: ISO 8601 string required');
  if (typeof run.quick !== 'boolean') errors.push('quick: boolean required');
  const m = run.machine;
  if (!isObj(m)) {
    errors.push('machine: object required');
  } else {
    if (typeof m.cpuModel !== 'string') errors.push('machine.cpuModel: string required');
    if (!(Number.isInteger(m.cores) && m.cores > 0)) errors.push('machine.cores: positive integer required');
    if (!(isFiniteNum(m.memoryBytes) && m.memoryBytes > 0)) errors.push('machine.memoryBytes: positive number required');
    for (const k of ['platform', 'arch', 'kernel']) if (typeof m[k] !== 'string') errors.push(`machine.${k}: string required`);
    if (!Array.isArray(m.loadavg) || !m.loadavg.every(isFiniteNum)) errors.push('machine.loadavg: number[] required');
  }
  if (typeof run.node !== 'string' || !run.node.startsWith('v')) errors.push('node: process.version string required');
  if (!isObj(run.packages) || !Object.values(run.packages).every((v) => typeof v === 'string')) errors.push('packages: {name: version} required');
  if (!isObj(run.git)) {
    errors.push('git: object required');
  } else {
    if (!(run.git.commit === null || (typeof run.git.commit === 'string' && /^[0-9a-f]{7,64}$/.test(run.git.commit)))) errors.push('git.commit: hex string or null required');
    if (!(run.git.dirty === null || typeof run.git.dirty === 'boolean')) errors.push('git.dirty: boolean or null required');
  }
  if (!Array.isArray(run.suites)) {
    errors.push('suites: array required');
  } else {
    run.suites.forEach((s, i) => {
      if (!isObj(s) || typeof s.name !== 'string' || !['ok', 'not-available', 'failed'].includes(s.status) || !isFiniteNum(s.durationMs) || !Number.isInteger(s.cases)) {
        errors.push(`suites[${i}]: {name, status: ok|not-available|failed, durationMs, cases} required`);
      }
    });
  }
  if (!Array.isArray(run.cases)) {
    errors.push('cases: array required');
  } else {
    run.cases.forEach((c, i) => errors.push(...validateCase(c, `cases[${i}]`)));
  }
  return errors;
}

/**
 * Throws a single Error listing every problem when `run` is not a valid RunRecord.
 * @param {unknown} run
 * @param {string} [where]  file name for the message
 * @returns {RunRecord}
 */
export function assertRun(run, where = 'run') {
  const errors = validateRun(run);
  if (errors.length > 0) throw new Error(`${where} is not a valid benchmark run:\n  ${errors.join('\n  ')}`);
  return /** @type {RunRecord} */ (run);
}
