import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AppendLog } from './append-log.js';
import { LogFileSink } from './log-file.js';
import { logFilePaths } from './log-reader.js';
import { concatFiles, tempDirPerTest } from '../test-support/log-dir.js';

const enc = (s: string) => new TextEncoder().encode(s);

const tmp = tempDirPerTest('vtcon-append-');

/** Splits `data` into pseudo-random chunk sizes (deterministic). */
function chunks(data: Uint8Array, seed = 7, max = 97): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = seed;
  for (let i = 0; i < data.length;) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % max);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** `data` as views over one SharedArrayBuffer, the way a worker ring or guest memory hands them out. */
function sharedViews(data: Uint8Array, seed: number): Uint8Array[] {
  const sab = new SharedArrayBuffer(data.length + 16);
  const whole = new Uint8Array(sab, 8, data.length);
  whole.set(data);
  const views: Uint8Array[] = [];
  let off = 0;
  for (const c of chunks(data, seed, 50)) {
    views.push(new Uint8Array(sab, 8 + off, c.length));
    off += c.length;
  }
  return views;
}

describe('AppendLog', () => {
  it('appends byte-exact, creates the directory, and the bytes are in the file when append returns', async () => {
    const path = join(tmp.dir(), 'sub', 'deeper', 'vm1-console.log');
    const log = AppendLog.open({ path });
    expect(log.path).toBe(path);
    const data = randomBytes(200_000);
    for (const c of chunks(data)) {
      log.append([c], 1);
    }
    // No flush: write(2) has returned, so another reader of the file sees everything now.
    expect((await readFile(path)).equals(data)).toBe(true);
    log.append([], 2);
    log.append([new Uint8Array(0)], 2);
    log.close();
    expect((await readFile(path)).equals(data)).toBe(true);
    expect(log.stats).toEqual({ bytesIn: data.length, bytesWritten: data.length, rotations: 0, bytesDropped: 0 });
    expect(log.failed).toBeNull();
  });

  it('writes multiple parts per append, including SharedArrayBuffer-backed views and more than IOV_MAX parts', async () => {
    const path = join(tmp.dir(), 'parts.log');
    const log = AppendLog.open({ path });
    const a = randomBytes(10_000);
    const viewsA = sharedViews(a, 3);
    log.append(viewsA.slice(0, 5), 1);
    log.append(viewsA.slice(5), 1);
    // Mixed: plain Buffer, empty part, SAB view.
    const sab = new SharedArrayBuffer(8);
    new Uint8Array(sab).set(enc('SHARED!\n'));
    log.append([enc('plain|'), new Uint8Array(0), new Uint8Array(sab, 0, 8)], 2);
    // 2500 one-byte SAB views: more iovecs than one writev(2) takes.
    const b = randomBytes(2500);
    const bsab = new SharedArrayBuffer(b.length);
    new Uint8Array(bsab).set(b);
    const many = Array.from({ length: b.length }, (_, i) => new Uint8Array(bsab, i, 1));
    log.append(many, 3);
    log.close();
    const expected = Buffer.concat([a, enc('plain|SHARED!\n'), b]);
    expect((await readFile(path)).equals(expected)).toBe(true);
    expect(log.stats.bytesIn).toBe(expected.length);
    expect(log.stats.bytesWritten).toBe(expected.length);
  });

  it('timestamps produce exactly the file LogFileSink produces for the same writes', async () => {
    const t0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const writes: [string[], number][] = [
      [['boot: '], t0],
      [['ok\nsecond', ' line\nthi'], t0 + 1000],
      [['rd\n'], t0 + 1001],
      [['\n', '', '\nx'], t0 + 1002],
      [['y\n\n\nz'], t0 + 1003],
    ];
    const appendPath = join(tmp.dir(), 'append.log');
    const log = AppendLog.open({ path: appendPath, timestamps: true });
    for (const [parts, at] of writes) log.append(parts.map(enc), at);
    log.close();

    const sinkPath = join(tmp.dir(), 'sink.log');
    const sink = await LogFileSink.open({ path: sinkPath, timestamps: true });
    for (const [parts, at] of writes) for (const p of parts) sink.write(enc(p), at);
    await sink.close();

    const got = await readFile(appendPath, 'utf8');
    expect(got).toBe(await readFile(sinkPath, 'utf8'));
    const s0 = new Date(t0).toISOString();
    expect(got.startsWith(`${s0} boot: ok\n`)).toBe(true);
    const guest = writes.flatMap(([p]) => p).join('');
    expect(log.stats.bytesIn).toBe(guest.length);
    expect(log.stats.bytesWritten).toBe(Buffer.byteLength(got));
  });

  it('rotates by size: no file over maxBytes, concatenation oldest-first equals the stream', async () => {
    const path = join(tmp.dir(), 'r.log');
    const log = AppendLog.open({ path, maxBytes: 1000, keep: 100 });
    const data = randomBytes(20_500); // binary: cuts mostly at maxBytes exactly
    const views = sharedViews(data, 11);
    for (let i = 0; i < views.length; i += 3) log.append(views.slice(i, i + 3), 1);
    log.close();
    const files = await logFilePaths(path);
    expect(files.length).toBe(21);
    for (const f of files) expect((await stat(f)).size).toBeLessThanOrEqual(1000);
    expect((await concatFiles(path)).equals(data)).toBe(true);
    expect(log.stats.rotations).toBe(20);
  });

  it('keeps only `keep` files holding the newest bytes, cut at line ends when that keeps them half full', async () => {
    const path = join(tmp.dir(), 'k.log');
    const log = AppendLog.open({ path, maxBytes: 100, keep: 3 });
    let text = '';
    for (let i = 0; i < 200; i++) text += `line ${i} ${'x'.repeat(i % 13)}\n`;
    // One line per append (a guest printing lines): every cut lands on a line end.
    for (const line of text.split(/(?<=\n)/)) log.append([enc(line)], 1);
    log.close();
    const files = await logFilePaths(path);
    expect(files).toEqual([`${path}.2`, `${path}.1`, path]);
    const all = (await concatFiles(path)).toString('utf8');
    expect(text.endsWith(all)).toBe(true);
    expect(all.length).toBeGreaterThan(150);
    for (const f of files.slice(0, 2)) {
      const s = await readFile(f, 'utf8');
      expect(s.length).toBeLessThanOrEqual(100);
      expect(s.length).toBeGreaterThanOrEqual(50);
      expect(s.endsWith('\n')).toBe(true);
    }
  });

  it('keep = 1 replaces the single file; one append larger than several files is cut across rotations', async () => {
    const path = join(tmp.dir(), 'one.log');
    const log = AppendLog.open({ path, maxBytes: 10, keep: 1 });
    log.append([enc('0123456789abcde'), enc('fghij')], 1);
    log.append([enc('XYZ')], 1);
    log.close();
    expect(await logFilePaths(path)).toEqual([path]);
    expect(await readFile(path, 'utf8')).toBe('XYZ');
    expect(log.stats.rotations).toBe(2);
  });

  it('appends to an existing file on reopen, counting its size toward maxBytes', async () => {
    const path = join(tmp.dir(), 'a.log');
    const a = AppendLog.open({ path, maxBytes: 20, keep: 5 });
    a.append([enc('first\n')], 1);
    a.close();
    const b = AppendLog.open({ path, maxBytes: 20, keep: 5 });
    b.append([enc('second\n')], 2);
    expect(await readFile(path, 'utf8')).toBe('first\nsecond\n');
    b.append([enc('third\n')], 3); // 13 + 6 = 19 fits
    expect(b.stats.rotations).toBe(0);
    // Would be 26: the file (read back on reopen) ends at a line, so rotate before this line.
    b.append([enc('fourth\n')], 4);
    b.close();
    expect(b.stats.rotations).toBe(1);
    expect(await readFile(`${path}.1`, 'utf8')).toBe('first\nsecond\nthird\n');
    expect(await readFile(path, 'utf8')).toBe('fourth\n');
  });

  it('creates new files with the given mode', async () => {
    const path = join(tmp.dir(), 'm.log');
    AppendLog.open({ path, mode: 0o600 }).close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('open fails with LOG_WRITE_FAILED when the directory is a file, BAD_OPTION for bad options', async () => {
    const notDir = join(tmp.dir(), 'file');
    await writeFile(notDir, 'x');
    expect(() => AppendLog.open({ path: join(notDir, 'c.log') })).toThrowError(
      expect.objectContaining({ name: 'ConsoleError', reason: 'LOG_WRITE_FAILED' }),
    );
    expect(() => AppendLog.open({ path: join(tmp.dir(), 'x.log'), keep: 0 })).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    expect(() => AppendLog.open({ path: join(tmp.dir(), 'x.log'), keep: 1.5 })).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    expect(() => AppendLog.open({ path: join(tmp.dir(), 'x.log'), maxBytes: 0 })).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
    expect(() => AppendLog.open({ path: '' })).toThrowError(expect.objectContaining({ reason: 'BAD_OPTION' }));
  });

  it('a write failure (disk full) fails the log once, drops and counts later bytes, and never throws', () => {
    const onFailed = vi.fn();
    const log = AppendLog.open({ path: '/dev/full', maxBytes: Number.POSITIVE_INFINITY }, onFailed);
    expect(() => log.append([enc('0123456789')], 1)).not.toThrow();
    expect(onFailed).toHaveBeenCalledTimes(1);
    const err = onFailed.mock.calls[0]![0] as { reason: string; message: string };
    expect(err).toMatchObject({ name: 'ConsoleError', reason: 'LOG_WRITE_FAILED' });
    expect(err.message).toMatch(/^LOG_WRITE_FAILED: write \/dev\/full: ENOSPC/);
    expect(log.failed).toBe(err);
    log.append([enc('more'), enc('!')], 2);
    log.sync();
    log.close();
    log.close();
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(log.stats).toEqual({ bytesIn: 15, bytesWritten: 0, rotations: 0, bytesDropped: 15 });
  });

  it('close is idempotent, sync works while open, append after close throws SINK_CLOSED', async () => {
    const path = join(tmp.dir(), 'c.log');
    const onFailed = vi.fn();
    const log = AppendLog.open({ path }, onFailed);
    log.append([enc('a\n')], 1);
    log.sync();
    log.close();
    log.close();
    log.sync(); // no-op once closed
    expect(() => log.append([enc('b\n')], 2)).toThrowError(expect.objectContaining({ reason: 'SINK_CLOSED' }));
    expect(onFailed).not.toHaveBeenCalled();
    expect(await readFile(path, 'utf8')).toBe('a\n');
  });
});
