import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/binary.js';
import { DaemonLogFile } from './daemon-log.js';

const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) spawnSync('umount', [m]);
});

/** A 64 KiB tmpfs: a real filesystem that fills up. null where mounting is not allowed. */
function smallTmpfs(): string | null {
  const dir = tempDir('vtcon-full-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  if (r.status !== 0) return null;
  mounts.push(dir);
  return dir;
}

describe('DaemonLogFile', () => {
  it('on /dev/full: every line dropped and counted, no throw, the failure said once', () => {
    const notes: string[] = [];
    const log = new DaemonLogFile({ path: '/dev/full', maxBytes: 1 << 30, keep: 0, onFailure: (m) => notes.push(m) });
    const logger = pino({ base: null }, log);
    for (let i = 0; i < 1000; i++) logger.error({ i }, 'nowhere to go');
    expect(log.dropped).toBe(1000);
    expect(log.failing).toBe('ENOSPC');
    expect(notes).toEqual([expect.stringMatching(/daemon log \/dev\/full: ENOSPC; dropping log lines/)]);
    log.close();
  });

  it('on a filesystem that fills up: drops and counts, then says how many once space is back', (ctx) => {
    const fs = smallTmpfs();
    if (!fs) return ctx.skip();
    const path = join(fs, 'logs', 'daemon.log');
    const notes: string[] = [];
    const log = new DaemonLogFile({ path, maxBytes: 1 << 30, keep: 0, onFailure: (m) => notes.push(m) });
    const logger = pino({ base: null }, log);
    for (let i = 0; i < 2000; i++) logger.info({ i, pad: 'x'.repeat(100) }, 'filling');
    expect(log.dropped).toBeGreaterThan(0);
    expect(notes).toHaveLength(1);
    const dropped = log.dropped;
    // Make room (an operator deletes something), and the log goes on.
    writeFileSync(path, '');
    logger.info('space again');
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; dropped?: number });
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/line\(s\) dropped \(ENOSPC\)/), 'space again']);
    expect(lines[0]!.dropped).toBe(dropped);
    expect(log.failing).toBeNull();
    log.close();
  });

  it('rotates at maxBytes and keeps `keep` old files', () => {
    const dir = tempDir('vtcon-dlog-');
    const path = join(dir, 'daemon.log');
    const log = new DaemonLogFile({ path, maxBytes: 4096, keep: 2 });
    const logger = pino({ base: null }, log);
    for (let i = 0; i < 500; i++) logger.info({ i }, 'a line of the daemon log');
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['daemon.log', 'daemon.log.1', 'daemon.log.2']);
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(4096);
    // The newest lines are in the live file, the ones before them in .1: nothing torn.
    const last = readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(last.at(-1)).toBe(499);
    const prev = readFileSync(`${path}.1`, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(prev.at(-1)).toBe(last[0]! - 1);
    rmSync(dir, { recursive: true });
  });

  it('creates its file 0600 and its directory 0700 whatever the umask', () => {
    const dir = tempDir('vtcon-dlog-');
    const old = process.umask(0);
    try {
      const log = new DaemonLogFile({ path: join(dir, 'd', 'daemon.log'), maxBytes: 4096, keep: 1 });
      log.write('{"msg":"x"}\n');
      log.close();
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, 'd')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'd', 'daemon.log')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'd'))).toBe(true);
  });

  it('never rotates what is not a regular file (a logFile that is a null device stays one)', (ctx) => {
    // A private null device node (what /dev/null is), so a regression renames nothing that matters.
    const dir = tempDir('vtcon-dlog-');
    const path = join(dir, 'null');
    if (spawnSync('mknod', [path, 'c', '1', '3']).status !== 0) return ctx.skip();
    const log = new DaemonLogFile({ path, maxBytes: 4096, keep: 2 });
    for (let i = 0; i < 200; i++) log.write(`{"i":${i},"pad":"${'x'.repeat(100)}"}\n`);
    log.close();
    expect(readdirSync(dir)).toEqual(['null']);
    expect(statSync(path).isCharacterDevice()).toBe(true);
    expect(log.dropped).toBe(0);
    rmSync(dir, { recursive: true });
  });
});
