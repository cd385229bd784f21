// Temp dirs of the e2e harness, all under one root per run so that a run leaves nothing in /tmp:
// global-setup.ts makes the root (VTCON_E2E_TMP) and removes it at the end unless
// VTCON_E2E_KEEP_TMP=1 (for a post-mortem of serial logs and daemon logs). Without a global setup
// (a process of its own) the root is made here and removed when the process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root = process.env.VTCON_E2E_TMP;

/** A fresh directory under this run's temp root. */
export function e2eTempDir(prefix: string): string {
  if (root === undefined) {
    const own = mkdtempSync(join(tmpdir(), 'vtcon-e2e-run-'));
    if (process.env.VTCON_E2E_KEEP_TMP !== '1') process.once('exit', () => rmSync(own, { recursive: true, force: true }));
    root = own;
  }
  return mkdtempSync(join(root, prefix));
}
