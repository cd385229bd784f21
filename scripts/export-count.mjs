// Counts the names each package entry exports (values and types), from the built .d.ts files:
// `node scripts/export-count.mjs` after a build. Used to keep the public surfaces small.
import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entries = [];
for (const p of ['ring', 'transport', 'console', 'cli']) {
  const pkg = JSON.parse(readFileSync(resolve(root, 'packages', p, 'package.json'), 'utf8'));
  for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
    entries.push({ name: `${pkg.name}${sub === '.' ? '' : sub.slice(1)}`, file: resolve(root, 'packages', p, target.types) });
  }
}
const program = ts.createProgram(entries.map((e) => e.file), { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true });
const checker = program.getTypeChecker();
for (const e of entries) {
  const sf = program.getSourceFile(e.file);
  const sym = sf && checker.getSymbolAtLocation(sf);
  const names = sym ? checker.getExportsOfModule(sym) : [];
  const values = names.filter((s) => {
    const t = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return (t.flags & ts.SymbolFlags.Value) !== 0;
  });
  console.log(`${e.name.padEnd(28)} ${String(names.length).padStart(4)} names (${values.length} values)`);
}
