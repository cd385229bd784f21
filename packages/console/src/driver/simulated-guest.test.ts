import { describe, expect, it } from 'vitest';
import { ConsoleDevice } from '../device/console-device.js';
import { Loopback } from './loopback.js';
import { VtconDriver } from './vtcon-driver.js';
import { SimulatedGuest } from './simulated-guest.js';
import { until } from '../test-support/until.js';


describe('SimulatedGuest', () => {
  it('prints a banner on each port, echoes input, answers stty size with the RESIZEd size', async () => {
    const loop = new Loopback();
    const out = new Map<number, string>();
    const dev = new ConsoleDevice({ ports: [{ name: 'console', console: true }, { name: 'agent' }], bindQueue: loop.bindQueue, size: { cols: 100, rows: 40 } });
    dev.on('data', (p, b) => out.set(p, (out.get(p) ?? '') + Buffer.from(b).toString()));
    loop.connect(dev);
    const drv = new VtconDriver(loop);
    new SimulatedGuest(drv, { hostname: 'g1' });
    await drv.attach();
    await until(() => (out.get(0) ?? '').includes('g1:~# ') && (out.get(1) ?? '').includes('g1:~# '));
    expect(out.get(0)).toContain('is the console');
    await until(() => dev.port(0).guestOpen);
    dev.send(0, 'stty size\r');
    await until(() => out.get(0)!.includes('40 100'));
    dev.resize(0, 132, 50);
    dev.send(0, 'stty size\r');
    await until(() => out.get(0)!.includes('50 132'));
    expect(out.get(0)).toContain('stty size\r\n40 100\r\n');
    await drv.detach();
  });
});
