// Adds up vitest's per-project "Tests  N failed | M passed (T)" lines from a CI log and prints one
// closing line, "N passed, N failed", that CI readers recognise whatever the runner.
import { readFileSync } from 'node:fs';

const log = readFileSync(process.argv[2] ?? 0, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
for (const line of log.split('\n')) {
  const m = /^\S*\s*Tests\s+(.*)\(\d+\)\s*$/.exec(line.replace(/^[^:]*: /, ''));
  if (!m) continue;
  for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (what === 'passed') passed += Number(n);
    else if (what === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
}
// The fuzzer and other plain runners print their own "N passed, N failed" lines.
for (const [, p, f] of log.matchAll(/^(\d+) passed, (\d+) failed$/gm)) {
  passed += Number(p);
  failed += Number(f);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
