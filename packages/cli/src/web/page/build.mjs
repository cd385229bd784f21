// Builds the web console's page (this folder) into dist/web/page: one JS bundle with xterm.js and
// its fit addon, one CSS file, and index.html. Run by the package's build target; the page never
// loads anything from the network at run time.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const outdir = `${root}dist/web/page`;
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: { app: `${root}src/web/page/app.ts` },
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  outdir,
  logLevel: 'warning',
});
copyFileSync(`${root}src/web/page/index.html`, `${outdir}/index.html`);
