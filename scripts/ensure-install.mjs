// `npm test` on a fresh clone: bring in what the suites need before nx runs them, so the README's
// second command works on its own. Each step is idempotent and fast once done.
//  - Debian packages the tests drive (chromium, tmux, conserver, …): scripts/apt-deps.sh (root or sudo)
//  - the npm workspace (npm ci) when nobody installed it yet
//  - the foreign vhost-user backend (virtiofsd from Debian trixie) for transport's real-peer test
//  - nats-server 2.10 (Debian trixie) for cli's fleet tests
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const root = new URL('..', import.meta.url);
const run = (cmd) => execSync(cmd, { stdio: 'inherit', cwd: root });

run('bash scripts/apt-deps.sh');
if (!existsSync(new URL('node_modules/.package-lock.json', root))) run('npm ci --no-audit --no-fund');
run('bash scripts/foreign-backends.sh');
run('bash scripts/nats-server.sh');
