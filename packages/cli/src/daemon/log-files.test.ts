import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filterSince, lastLinesOf, readLogHistory, readLogTail } from './log-files.js';
import { tempDir } from '../testing/binary.js';

describe('readLogHistory', () => {
  it('concatenates rotated files oldest first', async () => {
    const dir = tempDir('vtcon-logs-');
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

describe('readLogTail', () => {
  it('reads only the last maxBytes of the history, across rotated files, and counts what it left out', async () => {
    const dir = tempDir('vtcon-logs-');
    const p = join(dir, 'console.log');
    writeFileSync(p + '.2', 'oldest\n');
    writeFileSync(p + '.1', 'middle\n');
    writeFileSync(p, 'live\n');
    const whole = (await readLogHistory(p)).toString();
    for (let max = 0; max <= whole.length + 2; max++) {
      const { tail, omitted } = await readLogTail(p, max);
      expect(tail.toString()).toBe(whole.slice(Math.max(0, whole.length - max)));
      expect(omitted).toBe(Math.max(0, whole.length - max));
    }
    expect(await readLogTail(join(dir, 'none.log'), 10)).toMatchObject({ omitted: 0, tail: Buffer.alloc(0) });
  });
});

describe('lastLinesOf', () => {
  it('counts a final unterminated line as one, and 0 lines as nothing', () => {
    const text = Buffer.from('a\r\nb\r\nvm1:~# ');
    expect(lastLinesOf(text, 1).toString()).toBe('vm1:~# ');
    expect(lastLinesOf(text, 2).toString()).toBe('b\r\nvm1:~# ');
    expect(lastLinesOf(text, 9).toString()).toBe('a\r\nb\r\nvm1:~# ');
    expect(lastLinesOf(text, 0).length).toBe(0);
    expect(lastLinesOf(Buffer.from('x\ny\n'), 1).toString()).toBe('y\n');
  });
});
