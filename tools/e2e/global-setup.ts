// Runs the idempotent setup before the suite, so the initramfs always carries the current
// guest/init and scenarios (a few tenths of a second when nothing changed). VTCON_E2E_SKIP_SETUP=1
// skips it (e.g. when .ci/run has just run setup.sh). Also makes the run's temp root (src/tmp.ts)
// and removes it when the run ends (VTCON_E2E_KEEP_TMP=1 keeps it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'vtcon-e2e-run-'));
  process.env.VTCON_E2E_TMP = root;
  const teardown = (): void => {
    if (process.env.VTCON_E2E_KEEP_TMP === '1') console.log(`e2e temp files kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  };
  if (process.env.VTCON_E2E_SKIP_SETUP === '1') return teardown;
  const here = dirname(fileURLToPath(import.meta.url));
  execFileSync('bash', [join(here, 'setup.sh')], { stdio: 'inherit', timeout: 600_000 });
  return teardown;
}
