// Node module hooks that run the TypeScript sources in worker threads started by tests (the pool's
// piscina workers, ring's two-thread test): vitest transforms the test's own thread, not the
// threads it starts, so without this they would have to load the compiled dist/ — stale in a
// watch run. Type-only transpilation with the repo's own typescript (no type check: lint does
// that); `./x.js` imports resolve to `./x.ts` when only the source exists, as tsc's NodeNext does.
// Loading typescript takes seconds on a busy machine, and every worker (a restarted one too) has
// its own hooks, so outputs are cached on disk by content hash and typescript loads only on a miss.
// Registered with module.register(); dev-only: nothing in a package's dist/ refers to it.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/vtcon-ts-hooks/', import.meta.url));
const CACHE_VERSION = '1';
let ts = null;

async function transpile(fileName, source) {
  const key = createHash('sha256').update(`${CACHE_VERSION}\0${fileName}\0${source}`).digest('hex');
  const cached = `${cacheDir}${key}.js`;
  try {
    return await readFile(cached, 'utf8');
  } catch {
    // a miss: transpile below
  }
  ts ??= (await import('typescript')).default;
  const { outputText } = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true, inlineSourceMap: true,
    },
  });
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, outputText);
  await rename(tmp, cached); // atomic: concurrent workers never read half a file
  return outputText;
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !specifier.endsWith('.js')) throw err;
    return next(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const fileName = fileURLToPath(url);
  return { format: 'module', source: await transpile(fileName, await readFile(fileName, 'utf8')), shortCircuit: true };
}
