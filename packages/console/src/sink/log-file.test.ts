import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LogFileSink } from './log-file.js';
import { followLogFile, logFilePaths } from './log-reader.js';
import { concatFiles, tempDirPerTest } from '../test-support/log-dir.js';

const enc = (s: string) => new TextEncoder().encode(s);

const tmp = tempDirPerTest('vtcon-log-');

/** Splits `data` into pseudo-random chunk sizes (deterministic). */
function chunks(data: Uint8Array, seed = 7): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = seed;
  for (let i = 0; i < data.length;) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % 97);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('LogFileSink', () => {
  it('appends, flushes to disk, and close() leaves every accepted byte in the file', async () => {
    const path = join(tmp.dir(), 'sub', 'vm1-console.log');
    const log = await LogFileSink.open({ path });
    const data = randomBytes(300_000);
    for (const c of chunks(data)) log.write(c, 1);
    await log.flush();
    expect((await readFile(path)).equals(data)).toBe(true);
    log.write(enc('tail'), 2);
    await log.close();
    expect((await readFile(path)).equals(Buffer.concat([data, enc('tail')]))).toBe(true);
    expect(log.stats).toMatchObject({ bytesIn: data.length + 4, bytesWritten: data.length + 4, bytesQueued: 0, bytesDropped: 0 });
    expect(() => log.write(enc('x'), 3)).toThrowError(expect.objectContaining({ reason: 'SINK_CLOSED' }));
  });

  it('appends to an existing file on reopen', async () => {
    const path = join(tmp.dir(), 'a.log');
    const a = await LogFileSink.open({ path });
    a.write(enc('first\n'), 1);
    await a.close();
    const b = await LogFileSink.open({ path });
    b.write(enc('second\n'), 2);
    await b.close();
    expect(await readFile(path, 'utf8')).toBe('first\nsecond\n');
  });

  it('copies the chunk (the caller may reuse guest memory right after write)', async () => {
    const path = join(tmp.dir(), 'c.log');
    const log = await LogFileSink.open({ path });
    const buf = enc('hello');
    log.write(buf, 1);
    buf.fill(0x21);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('hello');
  });

  it('rotates by size: files within maxBytes, oldest first, concatenation equals the input', async () => {
    const path = join(tmp.dir(), 'r.log');
    const log = await LogFileSink.open({ path, maxBytes: 1000, keep: 100, batchBytes: 333 });
    const data = randomBytes(20_500); // binary: cuts mostly at maxBytes exactly
    for (const c of chunks(data)) log.write(c, 1);
    await log.close();
    const files = await logFilePaths(path);
    expect(files.length).toBe(21);
    expect(files[0]).toBe(`${path}.20`);
    expect(files.at(-1)).toBe(path);
    for (const f of files) expect((await stat(f)).size).toBeLessThanOrEqual(1000);
    expect((await concatFiles(path)).equals(data)).toBe(true);
    expect(log.stats.rotations).toBe(20);
  });

  it('rotation keeps only `keep` files and they hold the newest bytes, cut at line ends', async () => {
    const path = join(tmp.dir(), 'k.log');
    const log = await LogFileSink.open({ path, maxBytes: 100, keep: 3 });
    let text = '';
    for (let i = 0; i < 200; i++) text += `line ${i} ${'x'.repeat(i % 13)}\n`;
    for (const c of chunks(enc(text), 3)) log.write(c, 1);
    await log.close();
    const files = await logFilePaths(path);
    expect(files).toEqual([`${path}.2`, `${path}.1`, path]);
    const kept = (await concatFiles(path)).toString();
    expect(text.endsWith(kept)).toBe(true);
    for (const f of files.slice(0, 2)) {
      const s = await readFile(f, 'utf8');
      expect(s.length).toBeLessThanOrEqual(100);
      expect(s.endsWith('\n')).toBe(true); // rotated at a line boundary
    }
  });

  it('keep = 1 truncates by replacing the single file', async () => {
    const path = join(tmp.dir(), 'one.log');
    const log = await LogFileSink.open({ path, maxBytes: 10, keep: 1 });
    log.write(enc('0123456789abcdefghij'), 1);
    log.write(enc('XYZ'), 1);
    await log.close();
    expect(await logFilePaths(path)).toEqual([path]);
    expect(await readFile(path, 'utf8')).toBe('XYZ');
  });

  it('timestamps only at line starts, partial lines across writes get one stamp', async () => {
    const path = join(tmp.dir(), 't.log');
    const log = await LogFileSink.open({ path, timestamps: true });
    const t1 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const t2 = t1 + 1000;
    log.write(enc('boot: '), t1);
    log.write(enc('ok\nsecond line\nthi'), t2);
    log.write(enc('rd\n'), t2 + 1);
    log.write(enc('\n'), t2 + 2);
    await log.close();
    const s1 = new Date(t1).toISOString();
    const s2 = new Date(t2).toISOString();
    const s3 = new Date(t2 + 2).toISOString();
    expect(await readFile(path, 'utf8')).toBe(`${s1} boot: ok\n${s2} second line\n${s2} third\n${s3} \n`);
    expect(log.stats.bytesIn).toBe('boot: ok\nsecond line\nthird\n\n'.length);
  });

  it('signals backpressure at the high-water mark and drains; nothing is dropped', async () => {
    const path = join(tmp.dir(), 'bp.log');
    const log = await LogFileSink.open({ path, highWaterMark: 4096, batchBytes: 1024 });
    expect(log.wantsMore()).toBe(true);
    const data = randomBytes(64 * 1024);
    let accepted = 0;
    // A port: pops transmit chunks (512 B) only while the sink wants more.
    const pumpPort = () => {
      while (accepted < data.length && log.wantsMore()) {
        log.write(data.subarray(accepted, accepted + 512), 1);
        accepted += 512;
      }
    };
    let drains = 0;
    const off = log.onDrain(() => {
      drains++;
      pumpPort();
    });
    pumpPort();
    expect(log.wantsMore()).toBe(false);
    expect(log.writable).toBe(false);
    expect(accepted).toBe(4096);
    await new Promise<void>((resolve) => {
      const check = () => (accepted >= data.length ? resolve() : setImmediate(check));
      check();
    });
    off();
    await log.close();
    expect(drains).toBeGreaterThan(0);
    expect(log.stats.queuedPeak).toBeLessThanOrEqual(4096);
    expect(log.stats.highWaterHits).toBeGreaterThan(0);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('disk failure: reports LOG_WRITE_FAILED, counts dropped bytes, never blocks the port', async () => {
    const log = await LogFileSink.open({ path: '/dev/full', maxBytes: Number.POSITIVE_INFINITY, highWaterMark: 8 });
    const failed = new Promise((resolve) => log.once('failed', resolve));
    log.write(enc('0123456789'), 1);
    expect(log.wantsMore()).toBe(false);
    expect(await failed).toMatchObject({ reason: 'LOG_WRITE_FAILED' });
    expect(log.wantsMore()).toBe(true);
    log.write(enc('more'), 2);
    expect(log.stats.bytesDropped).toBe(14);
    await expect(log.flush()).rejects.toMatchObject({ reason: 'LOG_WRITE_FAILED' });
    await expect(log.close()).rejects.toMatchObject({ reason: 'LOG_WRITE_FAILED' });
  });

  it('rejects bad options', async () => {
    await expect(LogFileSink.open({ path: join(tmp.dir(), 'x.log'), keep: 0 })).rejects.toMatchObject({ reason: 'BAD_OPTION' });
    await expect(LogFileSink.open({ path: join(tmp.dir(), 'x.log'), maxBytes: 0 })).rejects.toMatchObject({ reason: 'BAD_OPTION' });
  });
});

describe('followLogFile', () => {
  it('follows new data across several rotations without losing or duplicating bytes', async () => {
    const path = join(tmp.dir(), 'f.log');
    const log = await LogFileSink.open({ path, maxBytes: 500, keep: 50 });
    log.write(enc('old stuff\n'), 1);
    await log.flush();
    const ac = new AbortController();
    const got: Buffer[] = [];
    const data = randomBytes(6000);
    const want = Buffer.concat([enc('old stuff\n'), data]);
    let firstSeen!: () => void;
    const seen = new Promise<void>((r) => (firstSeen = r));
    const follower = (async () => {
      let n = 0;
      for await (const c of followLogFile(path, { signal: ac.signal, from: 'live', pollMs: 10 })) {
        got.push(Buffer.from(c));
        n += c.length;
        firstSeen();
        if (n >= want.length) ac.abort();
      }
    })();
    await seen; // the follower holds the live file before any rotation happens
    for (const c of chunks(data)) {
      log.write(c, 2);
      if (c.length > 90) await log.flush(); // interleave rotations with reads
    }
    await log.close();
    const timer = setTimeout(() => ac.abort(), 10_000);
    await follower;
    clearTimeout(timer);
    const all = Buffer.concat(got);
    expect(all.equals(want)).toBe(true);
    expect(log.stats.rotations).toBeGreaterThan(5);
  });

  it("from 'all' yields the rotated files first, then follows", async () => {
    const path = join(tmp.dir(), 'g.log');
    const log = await LogFileSink.open({ path, maxBytes: 10, keep: 10 });
    log.write(enc('aaaaaaaaaabbbbbbbbbbcc'), 1);
    await log.flush();
    const ac = new AbortController();
    let s = '';
    const follower = (async () => {
      for await (const c of followLogFile(path, { signal: ac.signal, from: 'all', pollMs: 10 })) {
        s += Buffer.from(c).toString();
        if (s.length >= 25) ac.abort();
      }
    })();
    log.write(enc('ddd'), 2);
    await log.close();
    const timer = setTimeout(() => ac.abort(), 10_000);
    await follower;
    clearTimeout(timer);
    expect(s).toBe('aaaaaaaaaabbbbbbbbbbccddd');
  });
});
