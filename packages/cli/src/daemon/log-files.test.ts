import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filterSince, readLogHistory } from './log-files.js';

describe('readLogHistory', () => {
  it('concatenates rotated files oldest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtcon-logs-'));
    const p = join(dir, 'console.log');
    writeFileSync(p + '.2', 'a\n');
    writeFileSync(p + '.10', 'oldest\n');
    writeFileSync(p + '.1', 'b\n');
    writeFileSync(p, 'c\n');
    writeFileSync(join(dir, 'console.log.bak'), 'ignored\n');
    expect((await readLogHistory(p)).toString()).toBe('oldest\na\nb\nc\n');
  });

  it('keeps lines stamped at or after --since, with their unstamped continuations', () => {
    const text = Buffer.from('2026-01-01T00:00:00.000Z old\n2026-01-01T00:01:00.000Z new\ncontinued\n');
    expect(filterSince(text, Date.parse('2026-01-01T00:00:30Z')).toString()).toBe('2026-01-01T00:01:00.000Z new\ncontinued\n');
  });
});
