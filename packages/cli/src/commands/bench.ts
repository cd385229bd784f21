import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError } from '../errors.js';

/** The monorepo root when running from a checkout (packages/cli/dist → ../../..). */
function repoRoot(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const cand of [resolve(here, '../../..'), resolve(here, '../../../..'), process.cwd()]) {
    if (existsSync(join(cand, 'benchmarks', 'package.json'))) return cand;
  }
  return null;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the benchmark suites (node benchmarks/run.mjs), writing JSON results and the dashboard')
    .allowUnknownOption(true)
    .argument('[ARGS...]', 'passed through to benchmarks/run.mjs')
    .addHelpText('after', `
Examples:
  vtcon bench
  vtcon bench --quick                 # a smoke run
  vtcon bench --suite ring,transport`)
    .action(async (args: string[]) => {
      const root = repoRoot();
      const script = root ? join(root, 'benchmarks', 'run.mjs') : null;
      if (!root || !script || !existsSync(script)) {
        throw new CliError('RUNTIME', 'the benchmark suites are not here (benchmarks/run.mjs not found)', { hint: 'run it from a vtcon checkout: `npm run bench` or `node benchmarks/run.mjs`' });
      }
      const code = await new Promise<number>((res) => {
        const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
        child.on('exit', (c, sig) => res(c ?? (sig ? 1 : 0)));
      });
      if (code !== 0) throw new CliError('RUNTIME', `benchmarks exited with code ${code}`);
    });
}
