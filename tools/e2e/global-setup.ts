// Runs the idempotent setup before the suite, so the initramfs always carries the current
// guest/init and scenarios (a few tenths of a second when nothing changed). VTCON_E2E_SKIP_SETUP=1
// skips it (e.g. when .ci/run has just run setup.sh).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.VTCON_E2E_SKIP_SETUP === '1') return;
  const here = dirname(fileURLToPath(import.meta.url));
  execFileSync('bash', [join(here, 'setup.sh')], { stdio: 'inherit', timeout: 600_000 });
}
