// Progress display for `npm run bench`. On a terminal: one cli-progress bar over all suites (a
// suite that calls onProgress(done, total, label) moves it within its share). Elsewhere (CI logs,
// pipes): plain timestamped lines, because a redrawn bar turns into garbage in a log file.
// Everything goes to stderr so `--json` can keep stdout for the result.
import cliProgress from 'cli-progress';

/**
 * @typedef {object} Reporter
 * @property {(name: string, index: number, count: number) => void} suiteStart
 * @property {(done: number, total: number, label?: string) => void} suiteProgress
 * @property {(name: string, status: string, detail: string) => void} suiteEnd
 * @property {(line: string) => void} log     a line that must stay visible (warnings, "not available")
 * @property {() => void} close
 */

const STEPS_PER_SUITE = 1000;

/**
 * @param {{tty?: boolean, stream?: NodeJS.WriteStream}} [opts]
 * @returns {Reporter}
 */
export function createReporter(opts = {}) {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  return tty ? barReporter(stream) : lineReporter(stream);
}

/** @param {NodeJS.WriteStream} stream @returns {Reporter} */
function lineReporter(stream) {
  const t0 = Date.now();
  const stamp = () => `[bench +${((Date.now() - t0) / 1000).toFixed(1)}s]`;
  let current = '';
  let lastPct = -1;
  return {
    suiteStart(name, index, count) { current = name; lastPct = -1; stream.write(`${stamp()} suite ${index + 1}/${count}: ${name} started\n`); },
    suiteProgress(done, total, label) {
      // At most one line per 10 % so a chatty suite does not flood the log.
      const pct = total > 0 ? Math.floor((done / total) * 10) * 10 : 0;
      if (pct === lastPct) return;
      lastPct = pct;
      stream.write(`${stamp()}   ${current}: ${done}/${total}${label ? ` ${label}` : ''}\n`);
    },
    suiteEnd(name, status, detail) { stream.write(`${stamp()} suite ${name}: ${status}${detail ? ` — ${detail}` : ''}\n`); },
    log(line) { stream.write(`${line}\n`); },
    close() {},
  };
}

/** @param {NodeJS.WriteStream} stream @returns {Reporter} */
function barReporter(stream) {
  const bar = new cliProgress.SingleBar({
    stream, hideCursor: true, clearOnComplete: false, etaBuffer: 50,
    format: 'bench {bar} {percentage}% | {suiteIndex}/{suiteCount} {suite} {detail}',
  }, cliProgress.Presets.shades_classic);
  let base = 0;
  let started = false;
  return {
    suiteStart(name, index, count) {
      base = index * STEPS_PER_SUITE;
      const payload = { suite: name, suiteIndex: index + 1, suiteCount: count, detail: '' };
      if (!started) { bar.start(count * STEPS_PER_SUITE, base, payload); started = true; } else bar.update(base, payload);
    },
    suiteProgress(done, total, label) {
      const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
      bar.update(base + Math.floor(frac * STEPS_PER_SUITE), { detail: label ?? `${done}/${total}` });
    },
    suiteEnd(_name, status, detail) { bar.update(base + STEPS_PER_SUITE, { detail: `${status}${detail ? ` (${detail})` : ''}` }); },
    log(line) {
      // Print above the bar: cli-progress redraws on the next update.
      if (started) stream.write('\n');
      stream.write(`${line}\n`);
    },
    close() { if (started) bar.stop(); },
  };
}
