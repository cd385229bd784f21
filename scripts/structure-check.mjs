// Structure check (`npm run structure`, run by `npm test`): no import cycle among the packages'
// sources (madge) and no source file in packages/*/src over MAX_LINES lines. The allowlists name
// today's exceptions, each to be removed by the change that fixes it; an entry that no longer
// applies fails the check too, so the lists only shrink.
import { readdirSync, readFileSync } from 'node:fs';
import { relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import madge from 'madge';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 400;

// To be split (issue 12).
const LONG_FILES = new Set([
]);
// None left (issue 12 untangled the pool and its engines); a new cycle fails the check.
const CYCLES = new Set([]);

const problems = [];
const sources = readdirSync(resolve(root, 'packages')).flatMap((p) => {
  try {
    return readdirSync(resolve(root, 'packages', p, 'src'), { recursive: true, encoding: 'utf8' }).map((f) => `packages/${p}/src/${f}`);
  } catch {
    return [];
  }
}).filter((f) => /\.(ts|mjs)$/.test(f)).sort();

const long = new Map();
for (const f of sources) {
  const lines = readFileSync(resolve(root, f), 'utf8').split('\n').length - 1;
  if (lines > MAX_LINES) long.set(f, lines);
}
for (const [f, n] of long) if (!LONG_FILES.has(f)) problems.push(`${f}: ${n} lines (max ${MAX_LINES}): split it by role`);
for (const f of LONG_FILES) if (!long.has(f)) problems.push(`${f} is no longer over ${MAX_LINES} lines: remove it from LONG_FILES in scripts/structure-check.mjs`);

const graph = await madge(['ring', 'transport', 'console', 'cli'].map((p) => resolve(root, 'packages', p, 'src')), {
  baseDir: root,
  fileExtensions: ['ts'],
  tsConfig: resolve(root, 'tsconfig.base.json'),
  excludeRegExp: [/\/dist\//, /\.d\.ts$/, /node_modules/],
});
const cycles = graph.circular().map((c) => c.map((f) => relative(root, resolve(root, f))).join(' > '));
for (const c of cycles) if (!CYCLES.has(c)) problems.push(`import cycle: ${c}`);
for (const c of CYCLES) if (!cycles.includes(c)) problems.push(`the cycle ${c} is gone: remove it from CYCLES in scripts/structure-check.mjs`);

if (problems.length) {
  for (const p of problems) console.error(`structure: ${p}`);
  process.exit(1);
}
console.log(`structure: ${sources.length} source files, none over ${MAX_LINES} lines but ${LONG_FILES.size} listed; `
  + `no import cycle but ${CYCLES.size} listed`);
