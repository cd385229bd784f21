// Reads a config file (YAML, or JSON — which YAML 1.2 parses too), validates it with the zod
// schema, and turns every problem into a CliError (CONFIG_*) naming file:line:column and the field, so the
// operator can jump straight to it. Positions come from the yaml package's node ranges and
// LineCounter; a missing field points at the object that should contain it.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { isMap, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { CliError, type ConfigProblem } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Alias expansions a config may make; a YAML alias bomb exceeds it long before memory runs out. */
const MAX_ALIAS_COUNT = 100;

export type { ConfigProblem };

/** A config error: the problems at file:line:col, one per line. */
function configError(reason: 'CONFIG_UNREADABLE' | 'CONFIG_SYNTAX' | 'CONFIG_INVALID', problems: ConfigProblem[], cause?: unknown): CliError {
  return new CliError(reason, problems.map(formatProblem).join('\n'), { problems, cause });
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s ? `.${String(k)}` : String(k);
  return s;
}

/** Deepest node that exists along `path`, so a missing key points at its parent object. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | null {
  let node: unknown = doc.contents;
  let best: Node | null = (doc.contents as Node | null) ?? null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      // Point at the value when it exists, else at the key ("port: " with nothing after).
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
    } else break;
    if (node && typeof node === 'object' && 'range' in node) best = node as Node;
    else break;
  }
  return best;
}

export function parseConfig(text: string, file = '<config>'): Config {
  return parseYamlWith(configSchema, text, file);
}

/** YAML text checked against `schema`; every problem a CONFIG_* CliError at file:line:col. */
export function parseYamlWith<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    throw configError(
      'CONFIG_SYNTAX',
      doc.errors.map((e) => {
        const { line, col } = pos(e.pos[0]);
        return { file, line, col, field: '', message: e.message.split('\n')[0]! };
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // yaml refuses an alias expansion past maxAliasCount ("billion laughs"): a config error at
    // the first alias, not a crash.
    let at = 0;
    visit(doc, { Alias: (_key, node) => ((at = node.range?.[0] ?? 0), visit.BREAK) });
    const { line, col } = pos(at);
    throw configError('CONFIG_SYNTAX', [{ file, line, col, field: '', message: `aliases expand too far (${(err as Error).message}; at most ${MAX_ALIAS_COUNT} expansions)` }], err);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data as z.infer<S>;
  const problems = parsed.error.issues.map((issue) => {
    const node = nodeAt(doc, issue.path);
    const { line, col } = node?.range ? pos(node.range[0]) : { line: 1, col: 1 };
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      // Point at the first unknown key itself rather than its parent.
      const keyNode = findKey(doc, issue.path, issue.keys[0]!);
      const p = keyNode?.range ? pos(keyNode.range[0]) : { line, col };
      return { file, line: p.line, col: p.col, field: formatPath([...issue.path, issue.keys[0]!]), message: `unknown field (${message})` };
    }
    if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = 'required field is missing';
    return { file, line, col, field: formatPath(issue.path), message };
  });
  throw configError('CONFIG_INVALID', problems);
}

function findKey(doc: Document, path: readonly PropertyKey[], key: string): Node | null {
  const parent = nodeAt(doc, path);
  if (!isMap(parent)) return null;
  const pair = parent.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
  return (pair?.key as Node | undefined) ?? null;
}

export function loadConfigFile(file: string): Config {
  return parseYamlWith(configSchema, readConfigText(file), file);
}

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw configError('CONFIG_UNREADABLE', [{ file, line: 0, col: 0, field: '', message: `cannot read config (${code})` }], err);
  }
}
