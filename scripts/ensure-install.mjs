// `npm test` on a fresh clone: install the workspace first if nobody has yet.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
if (!existsSync(new URL('../node_modules/.package-lock.json', import.meta.url))) {
  execSync('npm ci', { stdio: 'inherit', cwd: new URL('..', import.meta.url) });
}
