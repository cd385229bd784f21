import { describe, expect, it } from 'vitest';
import { ConsoleDevice } from '../device/console-device.js';
import { Loopback } from './loopback.js';
import { VtconDriver } from './vtcon-driver.js';
import { until } from '../test-support/until.js';


describe('driver model ↔ device over loopback', () => {
  it('ports appear with names, console flagged, bytes both ways', async () => {
    const loop = new Loopback();
    const dev = new ConsoleDevice({ ports: [{ name: 'org.test.console', console: true }, { name: 'org.test.0' }], bindQueue: loop.bindQueue });
    const got: Uint8Array[] = [];
    dev.on('data', (_p, b) => got.push(b));
    loop.connect(dev);
    const drv = new VtconDriver(loop);
    await drv.attach();
    await until(() => drv.ports.length === 2 && drv.ports.every((p) => p.name !== null));
    const c = drv.portById(0)!;
    expect(c.name).toBe('org.test.console');
    expect(c.console).toBe(true);
    expect(drv.portById(1)!.console).toBe(false);
    await until(() => dev.port(0).guestOpen);
    await c.write('hello');
    expect(Buffer.concat(got).toString()).toBe('hello');
    const rx: Uint8Array[] = [];
    c.on('data', (b) => rx.push(b));
    dev.send('org.test.console', 'from host');
    await until(() => Buffer.concat(rx).toString() === 'from host');
    await drv.detach();
  });
});
