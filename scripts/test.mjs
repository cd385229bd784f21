// `npm test`: install what the suites drive, check the structure, then build, lint and test every
// package through nx. The suites' own output (every test's line) goes to a log file; the terminal
// gets one line per suite as it ends, what failed in full, and the totals as the closing line
// ("N passed, N failed"). VTCON_TEST_VERBOSE=1 streams everything instead.
import { spawn, execSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (cmd) => {
  try {
    execSync(cmd, { stdio: 'inherit', cwd: root });
  } catch (e) {
    console.error(`npm test: \`${cmd}\` failed (exit ${e.status ?? 1})`);
    process.exit(e.status ?? 1);
  }
};
run('node scripts/ensure-install.mjs');
run('node scripts/structure-check.mjs');

mkdirSync(`${root}.cache`, { recursive: true });
const logPath = `${root}.cache/test-output.log`;
const log = createWriteStream(logPath);
const verbose = process.env.VTCON_TEST_VERBOSE === '1';
console.log(`build, lint, test and test:foreign of every package (full output: ${logPath})`);

const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
/** Lines of each project's output, kept to print a failing suite in full. */
const byProject = new Map();
const totals = { passed: 0, failed: 0, skipped: 0 };
let currentTarget = '';

const nx = spawn('npx', ['nx', 'run-many', '-t', 'build', 'lint', 'test', 'test:foreign', '--output-style=stream'], {
  cwd: root, env: { ...process.env, NX_DAEMON: 'false' }, stdio: ['ignore', 'pipe', 'pipe'],
});
const tail = [];
const onLine = (raw) => {
  log.write(`${raw}\n`);
  tail.push(raw);
  if (tail.length > 80) tail.shift();
  if (verbose) console.log(raw);
  const line = plain(raw);
  const t = /^> nx run ([^:\s]+):(\S+)/.exec(line.trim());
  if (t) currentTarget = `${t[1]} ${t[2].replace(/"/g, '')}`;
  const m = /^(\S+): (.*)$/.exec(line);
  if (!m) return;
  const [, project, text] = m;
  if (!byProject.has(project)) byProject.set(project, []);
  byProject.get(project).push(raw);
  const tests = /^\s*Tests\s+(.*)\(\d+\)\s*$/.exec(text);
  if (tests) {
    const counts = {};
    for (const [, n, what] of tests[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) counts[what] = Number(n);
    totals.passed += counts.passed ?? 0;
    totals.failed += counts.failed ?? 0;
    totals.skipped += (counts.skipped ?? 0) + (counts.todo ?? 0);
    const target = currentTarget.startsWith(project) ? currentTarget : `${project} test`;
    if (!verbose) console.log(`  ${target}: ${tests[1].trim()}`);
    if (counts.failed && !verbose) {
      for (const l of byProject.get(project)) if (/FAIL|×|Error|expected/.test(plain(l))) console.log(`    ${l}`);
    }
  } else if (!verbose && /error TS\d+|\d+ problems? \(\d+ errors?/.test(text)) {
    console.log(`  ${project}: ${text.trim()}`);
  }
};
createInterface({ input: nx.stdout }).on('line', onLine);
createInterface({ input: nx.stderr }).on('line', onLine);
nx.on('close', (code) => {
  log.end();
  if (code !== 0 && !verbose) {
    console.log(`nx exited ${code}; its last lines (everything is in ${logPath}):`);
    for (const l of tail) console.log(`    ${l}`);
  }
  console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
  process.exit(code ?? 1);
});
