#!/usr/bin/env node
// Runs the real-guest throughput measurement (src/throughput.measure.ts) and prints its figures.
// Needs `bash tools/e2e/setup.sh` and a built CLI (`npx nx run @vtcon/cli:build`).
// VTCON_TP_MIB=N sets the guest→host size in MiB (default 8).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const e2eDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync('npx', ['vitest', 'run', '--config', 'src/throughput.config.ts', '--reporter', 'verbose'], { cwd: e2eDir, stdio: 'inherit' });
process.exit(r.status ?? 1);
