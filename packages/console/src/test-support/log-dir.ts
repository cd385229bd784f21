/**
 * Test support (not built into dist/) for the log writers' tests: a fresh temporary folder per
 * test, and the concatenation of a log's files oldest first (what rotation must preserve).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { readLogFiles } from '../sink/log-reader.js';

/** Registers beforeEach/afterEach; `dir()` is the current test's folder. */
export function tempDirPerTest(prefix: string): { dir(): string } {
  let dir = '';
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), prefix)); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });
  return { dir: () => dir };
}

export async function concatFiles(path: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of readLogFiles(path)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
