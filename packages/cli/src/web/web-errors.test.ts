// `vtcon web` startup problems are CliErrors: the operator sees one line with the reason's exit
// code (2: bad argument or config) and what to do, never a stack trace.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../testing/binary.js';
import { parseListen } from './web-config.js';

describe('vtcon web refuses bad settings with exit 2', () => {
  it('a listen port past 65535 is a usage error', () => {
    expect(() => parseListen('127.0.0.1:70000')).toThrow(expect.objectContaining({ name: 'CliError', reason: 'USAGE', exitCode: 2 }));
    const r = runCli(['web', '--listen', '127.0.0.1:70000', '--token-file', join(tempDir(), 'tokens')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"127\.0\.0\.1:70000": expected HOST:PORT/);
  });

  it('a token file others can read is a config error with the chmod to run', () => {
    const file = join(tempDir(), 'tokens');
    writeFileSync(file, 'write 0123456789abcdef0123\n');
    chmodSync(file, 0o644);
    const r = runCli(['web', '--listen', '127.0.0.1:0', '--token-file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`token file ${file} is readable by others (mode 644)`);
    expect(r.stderr).toContain(`chmod 600 ${file}`);
  });
});
