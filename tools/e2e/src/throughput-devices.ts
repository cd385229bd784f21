// The two devices the throughput comparison drives with the same guest workload: vtcon (the
// daemon, vhost-user) and QEMU's in-process virtio-serial (virtconsole + virtserialport on chardev
// sockets, read by a plain reader). Each says where a case's bytes go and how to read them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath, type VtconDaemon } from './daemon.js';
import type { Guest } from './qemu.js';
import type { ThroughputCase } from './throughput-report.js';

/** Port names, the same on both devices (the guest finds its device node by name). */
export const PORT_OUT = 'org.test.0';
export const PORT_IN = 'org.test.1';
/**
 * QEMU only: a named port on a file chardev writing to /dev/null, the "0 readers" case (with no
 * client a socket chardev is closed, and a null chardev never opens: the guest's writes block).
 */
export const PORT_NULL = 'org.test.null';

/** The QEMU arguments of the in-process reference device; chardev sockets under `dir`. */
export function qemuSerialArgs(dir: string): { args: string[]; sockets: { hvc: string; out: string; in: string } } {
  const sockets = { hvc: join(dir, 'hvc.sock'), out: join(dir, 'out.sock'), in: join(dir, 'in.sock') };
  const sock = (id: string, path: string): string[] => ['-chardev', `socket,id=${id},path=${path},server=on,wait=off`];
  return {
    sockets,
    args: [
      '-device', 'virtio-serial-pci,id=vs,max_ports=4',
      ...sock('c0', sockets.hvc), '-device', 'virtconsole,chardev=c0,bus=vs.0,nr=0',
      ...sock('p0', sockets.out), '-device', `virtserialport,chardev=p0,bus=vs.0,nr=1,name=${PORT_OUT}`,
      ...sock('p1', sockets.in), '-device', `virtserialport,chardev=p1,bus=vs.0,nr=2,name=${PORT_IN}`,
      '-chardev', 'file,id=pn,path=/dev/null', '-device', `virtserialport,chardev=pn,bus=vs.0,nr=3,name=${PORT_NULL}`,
    ],
  };
}

/**
 * A plain reader (a Unix socket, or a `vtcon attach` process's stdout): counts the bytes and
 * hashes them in segments of `segment` bytes (the guest writes its random file `repeats` times;
 * each segment must hash like it).
 */
export class SegmentReader {
  bytes = 0;
  readonly hashes: string[] = [];
  firstAt = 0n;
  lastAt = 0n;
  closed = false;
  private h = createHash('sha256');
  private inSeg = 0;

  private constructor(stream: Readable, private readonly segment: number, readonly close: () => void) {
    stream.on('data', (d: Buffer) => this.push(d));
    stream.on('close', () => { this.closed = true; });
    stream.on('error', () => undefined);
  }

  /** A raw client of a Unix socket (the attach socket, a chardev socket). */
  static open(path: string, segment: number): Promise<SegmentReader> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('error', reject);
      s.once('connect', () => { s.off('error', reject); resolve(new SegmentReader(s, segment, () => s.destroy())); });
    });
  }

  /** `vtcon attach VM:PORT --read-only --replay 0`, its stdout read; resolves once it is attached. */
  static attachReadOnly(d: VtconDaemon, target: string, segment: number): Promise<SegmentReader> {
    const child = spawn(process.execPath, [cliPath(), '-s', d.controlPath, 'attach', target, '--read-only', '--replay', '0'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const reader = new SegmentReader(child.stdout, segment, () => child.kill('SIGKILL'));
    return new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`vtcon attach ${target}: not attached within 20 s: ${err}`)); }, 20_000);
      child.stderr.setEncoding('utf8').on('data', (t: string) => {
        err += t;
        if (/attached to/.test(err)) { clearTimeout(timer); resolve(reader); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`vtcon attach ${target} exited ${code}: ${err}`)); });
    });
  }

  private push(d: Buffer): void {
    const now = process.hrtime.bigint();
    if (this.bytes === 0) this.firstAt = now;
    this.lastAt = now;
    this.bytes += d.length;
    let off = 0;
    while (off < d.length) {
      const n = Math.min(d.length - off, this.segment - this.inSeg);
      this.h.update(d.subarray(off, off + n));
      off += n; this.inSeg += n;
      if (this.inSeg === this.segment) { this.hashes.push(this.h.digest('hex')); this.h = createHash('sha256'); this.inSeg = 0; }
    }
  }

  /** Waits until `bytes` arrived, the socket closed, or nothing came for `quietMs`. */
  async settle(bytes: number, quietMs = 3000): Promise<void> {
    let last = this.bytes;
    let since = Date.now();
    while (this.bytes < bytes && !this.closed) {
      await sleep(20);
      if (this.bytes !== last) { last = this.bytes; since = Date.now(); } else if (Date.now() - since > quietMs) return;
    }
  }

  /** null when exact, else what differs. */
  check(bytes: number, sha256: string): string | null {
    if (this.bytes !== bytes) return `reader got ${this.bytes} of ${bytes} bytes${this.closed ? ' (disconnected)' : ''}`;
    const bad = this.hashes.filter((h) => h !== sha256).length;
    return bad === 0 ? null : `${bad} of ${this.hashes.length} segments differ (sha256)`;
  }

}

/** What a case needs from one device. */
export interface Device {
  readonly name: 'vtcon' | 'qemu';
  readonly guest: Guest;
  /** guest port (name or device) a guest→host case writes to */
  outPort(c: Extract<ThroughputCase, { dir: 'g2h' }>): string;
  /** the reader of that case (none: null), connected */
  reader(c: Extract<ThroughputCase, { dir: 'g2h' }>, segment: number): Promise<SegmentReader | null>;
  /** the socket host→guest bytes are written to */
  inputPath(): Promise<string>;
  /** vtcon: the daemon (CPU, counters) */
  readonly daemon?: VtconDaemon;
}

export function vtconDevice(d: VtconDaemon, guest: Guest): Device {
  const attachOf = async (port: string): Promise<string> => (await d.portNow('vm1', port))!.attachPath;
  return {
    name: 'vtcon', guest, daemon: d,
    outPort: (c) => (c.port === 'hvc0' ? 'hvc0' : PORT_OUT),
    reader: async (c, segment) => {
      const port = c.port === 'hvc0' ? 'console' : PORT_OUT;
      if (c.reader === 'raw') return SegmentReader.open(await attachOf(port), segment);
      if (c.reader === 'ro') return SegmentReader.attachReadOnly(d, `vm1:${port}`, segment);
      return null;
    },
    inputPath: () => attachOf(PORT_IN),
  };
}

export function qemuDevice(guest: Guest, sockets: { hvc: string; out: string; in: string }): Device {
  return {
    name: 'qemu', guest,
    outPort: (c) => (c.port === 'hvc0' ? 'hvc0' : c.reader === 'raw' ? PORT_OUT : PORT_NULL),
    reader: async (c, segment) => {
      if (c.reader === 'ro') throw new Error('QEMU has no `vtcon attach`: its raw reader is the reference');
      return c.reader === 'raw' ? SegmentReader.open(c.port === 'hvc0' ? sockets.hvc : sockets.out, segment) : null;
    },
    inputPath: () => Promise.resolve(sockets.in),
  };
}
