// The guest scenarios against a reference virtio console: QEMU's built-in virtio-serial device
// (virtconsole + virtserialport), driven by the same Linux virtio_console driver the vtcon suite
// meets. This checks the guest side of the harness (scenario scripts, port lookup by name, byte
// exactness, hashes) independently of vtcon, so a vtcon e2e failure points at vtcon.
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { guestsPerTest } from './failure-log.js';
import { e2eTempDir } from './tmp.js';

const boot = guestsPerTest();

/** QEMU listens (server=on,wait=off); connect once the socket exists, bounded. */
async function connectPort(path: string): Promise<Socket> {
  for (let i = 0; i < 100; i++) {
    const s = await new Promise<Socket | null>((resolve) => {
      const c = connect(path);
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(null));
    });
    if (s) return s;
    await sleep(100);
  }
  throw new Error(`could not connect to ${path}`);
}

function collect(s: Socket): { bytes(): Buffer } {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return { bytes: () => Buffer.concat(chunks) };
}

async function until(cond: () => boolean, timeoutMs: number, what: string, detail?: () => string): Promise<void> {
  for (let waited = 0; !cond(); waited += 50) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}${detail ? ` (${detail()})` : ''}`);
    await sleep(50);
  }
}

describe('guest scenarios against QEMU virtio-serial (reference device)', () => {
  it('lists named ports, moves random bytes guest->host byte-exact, reads host->guest bytes and lines', async () => {
    const dir = e2eTempDir('vtcon-e2e-vs-');
    const sock = (n: string): string => join(dir, `${n}.sock`);
    const chardev = (id: string): string => `socket,id=${id},path=${sock(id)},server=on,wait=off`;
    const g = boot({
      scenario: 'shell',
      stay: true,
      name: 'virtio-serial',
      extraArgs: [
        '-device', 'virtio-serial-pci,max_ports=4',
        '-chardev', chardev('con'), '-device', 'virtconsole,chardev=con,name=org.test.console',
        '-chardev', chardev('p1'), '-device', 'virtserialport,chardev=p1,name=org.test.0',
        '-chardev', chardev('p2'), '-device', 'virtserialport,chardev=p2,name=org.test.1',
      ],
    });
    await g.waitFor(/^VTCON shell ready$/, { timeoutMs: 60_000 });

    const ports = await g.exec('VTCON_NPORTS=3 sh /scenarios/ports.sh');
    expect(ports.rc).toBe(0);
    expect(ports.output).toContain('VTCON hvc hvc0');
    expect(ports.output).toContain('VTCON port vport0p1 name=org.test.0 dev=/dev/vport0p1');
    expect(ports.output).toContain('VTCON ports 3 vport0p0=org.test.console vport0p1=org.test.0 vport0p2=org.test.1');
    const info = await g.exec('sh /scenarios/info.sh');
    expect(info.output.some((l) => /^VTCON virtio-device virtio\d+ device=0x0003 vendor=\S+ driver=virtio_console$/.test(l))).toBe(true);
    const watch = await g.exec('VTCON_WATCH=1 sh /scenarios/watch-ports.sh');
    expect(watch.output.filter((l) => l.startsWith('VTCON '))).toEqual([
      'VTCON ports-now vport0p0=org.test.console vport0p1=org.test.0 vport0p2=org.test.1',
    ]);

    // guest -> host on a named port and on the console (raw tty), hashes compared. QEMU's
    // virtconsole drops what its chardev cannot take at once (it never throttles a console), so
    // the console transfer stays below a unix socket's buffer.
    for (const [id, port, bytes] of [['p1', 'org.test.0', 262144], ['con', 'hvc0', 65536]] as const) {
      const host = await connectPort(sock(id));
      const got = collect(host);
      const from = g.serial.lines().length;
      const run = await g.exec(`VTCON_PORT=${port} VTCON_BYTES=${bytes} sh /scenarios/write-random.sh`, { timeoutMs: 60_000 });
      expect(run.rc).toBe(0);
      const data = (await g.waitFor(/^VTCON data bytes=(\d+) sha256=([0-9a-f]{64})/, { from })).match;
      expect(data[1]).toBe(String(bytes));
      await until(() => got.bytes().length >= bytes, 30_000, `${port}: ${bytes} bytes at the host`, () => `got ${got.bytes().length}`);
      expect(got.bytes().length).toBe(bytes);
      expect(createHash('sha256').update(got.bytes()).digest('hex')).toBe(data[2]);
      host.destroy();
    }

    // host -> guest: exact bytes on a named port
    const p2 = await connectPort(sock('p2'));
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 0xff));
    const from = g.serial.lines().length;
    const reading = g.exec('VTCON_PORT=org.test.1 VTCON_BYTES=3000 sh /scenarios/read-bytes.sh');
    await g.waitFor(/^VTCON ready dev=\/dev\/vport0p2$/, { from });
    p2.write(payload);
    expect((await reading).rc).toBe(0);
    const received = await g.waitFor(/^VTCON received bytes=(\d+) sha256=(\w+) hex=(\w+)$/, { from });
    expect(received.match[1]).toBe('3000');
    expect(received.match[2]).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(received.match[3]).toBe(payload.subarray(0, 64).toString('hex'));

    // host -> guest: lines on the console
    const con = await connectPort(sock('con'));
    const from2 = g.serial.lines().length;
    const lines = g.exec('VTCON_PORT=hvc0 VTCON_LINES=2 sh /scenarios/read-lines.sh');
    await g.waitFor(/^VTCON ready dev=\/dev\/hvc0$/, { from: from2 });
    con.write('hello guest\nsecond line\n');
    expect((await lines).rc).toBe(0);
    const text = g.serial.lines().slice(from2).filter((l) => l.startsWith('VTCON line '));
    expect(text).toEqual(['VTCON line hello guest', 'VTCON line second line']);

    // scenario errors are reported, not hung on
    const missing = await g.exec('VTCON_PORT=org.test.absent VTCON_WAIT=1 sh /scenarios/write-random.sh');
    expect(missing.rc).toBe(1);
    expect(missing.output).toContain('VTCON error no-port org.test.absent');

    // the console's size is readable while held open; open/close rounds are reported
    const size = await g.exec('VTCON_WATCH=1 sh /scenarios/watch-size.sh');
    // no resize ever came from virtio-serial: the size is 0 0, reported once
    expect(size.output.filter((l) => l.startsWith('VTCON size'))).toEqual(['VTCON size 0 0']);
    const oc = await g.exec('VTCON_PORT=org.test.0 VTCON_HOLD=0.2 VTCON_TIMES=2 sh /scenarios/open-close.sh');
    expect(oc.output.filter((l) => l.startsWith('VTCON '))).toEqual([
      'VTCON opened dev=/dev/vport0p1 round=1', 'VTCON closed dev=/dev/vport0p1 round=1',
      'VTCON opened dev=/dev/vport0p1 round=2', 'VTCON closed dev=/dev/vport0p1 round=2',
    ]);
    p2.destroy();
    con.destroy();

    g.write('99 sh /scenarios/poweroff.sh\n');
    expect(await g.waitExit(30_000)).toEqual({ code: 0, signal: null });
  });
});
