import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Auth, loadOrCreateTokenFile, parseTokenFile } from './auth.js';
import { parseControl } from './console-bridge.js';
import { searchLines } from './logs-route.js';
import { allowedOrigins } from './server.js';
import { webSchema } from './web-config.js';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-web-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token file', () => {
  it('is created 0600 with one write and one read token, and read back the same', () => {
    const file = join(dir, 'new-tokens');
    const a = loadOrCreateTokenFile(file);
    expect(a.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(a.tokens.map((t) => t.role).sort()).toEqual(['read', 'write']);
    const b = loadOrCreateTokenFile(file);
    expect(b.created).toBe(false);
    expect(b.tokens).toEqual(a.tokens);
    expect(readFileSync(file, 'utf8')).toContain(`write ${a.tokens.find((t) => t.role === 'write')!.token}`);
  });

  it('is refused when others can read it (as ssh refuses a readable key)', () => {
    const file = join(dir, 'loose-tokens');
    writeFileSync(file, 'write 0123456789abcdef0123\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => loadOrCreateTokenFile(file)).toThrow(expect.objectContaining({ reason: 'CONFIG_INVALID', exitCode: 2, hint: `chmod 600 ${file}`, message: expect.stringMatching(/readable by others \(mode 644\)/) }));
  });

  it('is refused through a symlink (O_NOFOLLOW)', () => {
    const real = join(dir, 'real-tokens');
    writeFileSync(real, 'write 0123456789abcdef0123\n', { mode: 0o600 });
    symlinkSync(real, join(dir, 'link-tokens'));
    expect(() => loadOrCreateTokenFile(join(dir, 'link-tokens'))).toThrow(expect.objectContaining({ reason: 'CONFIG_INVALID', message: expect.stringMatching(/is a symbolic link/) }));
  });

  it('rejects short tokens and unknown roles with the line number', () => {
    expect(() => parseTokenFile('# c\nwrite short\n', 'f')).toThrow(/f:2:/);
    expect(() => parseTokenFile('admin 0123456789abcdef0123\n', 'f')).toThrow(expect.objectContaining({ reason: 'CONFIG_INVALID', message: expect.stringMatching(/^f:1: expected/) }));
  });
});

describe('Auth', () => {
  const auth = new Auth([{ token: 'w'.repeat(20), role: 'write' }, { token: 'r'.repeat(20), role: 'read' }]);

  it('grants each token its role and nothing to any other string', () => {
    expect(auth.login('w'.repeat(20))?.role).toBe('write');
    expect(auth.login('r'.repeat(20))?.role).toBe('read');
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      fc.pre(s !== 'w'.repeat(20) && s !== 'r'.repeat(20));
      return auth.login(s) === null;
    }));
  });

  it('finds a session by its id until logout, and never by a guess', () => {
    const s = auth.login('r'.repeat(20))!;
    expect(auth.session(s.id)?.role).toBe('read');
    expect(auth.session(s.id.slice(0, -1) + (s.id.endsWith('A') ? 'B' : 'A'))).toBeNull();
    auth.logout(s.id);
    expect(auth.session(s.id)).toBeNull();
  });

  it('expires a session idle for more than 12 hours', () => {
    let now = 0;
    const a = new Auth([{ token: 'x'.repeat(16), role: 'write' }], () => now);
    const s = a.login('x'.repeat(16))!;
    now = 12 * 3600_000 + 1;
    expect(a.session(s.id)).toBeNull();
  });
});

describe('page messages and origins', () => {
  it('parseControl accepts only well-formed resize/break/pause/resume', () => {
    expect(parseControl('{"type":"resize","cols":100,"rows":30}')).toEqual({ type: 'resize', cols: 100, rows: 30 });
    expect(parseControl('{"type":"resize","cols":0,"rows":30}')).toBeNull();
    expect(parseControl('{"type":"resize","cols":1.5,"rows":30}')).toBeNull();
    expect(parseControl('{"type":"break"}')).toEqual({ type: 'break' });
    expect(parseControl('not json')).toBeNull();
    fc.assert(fc.property(fc.string(), (s) => {
      const m = parseControl(s);
      return m === null || ['resize', 'break', 'pause', 'resume'].includes(m.type);
    }));
  });

  it('allows the loopback names of the bound port by default, and only the configured origins otherwise', () => {
    const o = allowedOrigins(webSchema.parse({ listen: '127.0.0.1:0' }), 8123);
    expect([...o].sort()).toEqual(['http://127.0.0.1:8123', 'http://[::1]:8123', 'http://localhost:8123']);
    const c = allowedOrigins(webSchema.parse({ listen: '0.0.0.0:443', origins: ['https://console.example.org'] }), 443);
    expect([...c]).toEqual(['https://console.example.org']);
  });

  it('searchLines matches case-insensitively on text without terminal escapes', () => {
    const r = searchLines('a \x1b[1mHello\x1b[0m\nbye\nhello again\n', 'HELLO');
    expect(r).toEqual({ lines: ['a Hello', 'hello again'], matched: 2 });
  });
});
