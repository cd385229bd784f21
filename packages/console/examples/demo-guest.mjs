// Run: npm run build (in packages/console), then node examples/demo-guest.mjs
// A ConsoleDevice served on a real vhost-user socket, a simulated guest (the seed driver model
// with a tiny echo shell) connected to it, one command typed from the host side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleDevice } from '@vtcon/console';
import { connectGuest, serveDevice } from '@vtcon/console/testing';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-example-'));
const socket = join(dir, 'vm.sock');
const device = new ConsoleDevice({ ports: [{ name: 'org.vtcon.console', console: true }, { name: 'org.vtcon.agent' }], size: { cols: 100, rows: 30 } });
device.on('data', (port, bytes) => process.stdout.write(`[port ${port}] ${JSON.stringify(Buffer.from(bytes).toString())}\n`));
device.on('port-open', (p, open) => console.log(`guest ${open ? 'opened' : 'closed'} ${p.name}`));
const backend = serveDevice(socket, device);

const { driver } = await connectGuest(socket, { shell: { hostname: 'example' } });
await new Promise((r) => setTimeout(r, 100));
device.send('org.vtcon.console', 'stty size\r');
await new Promise((r) => setTimeout(r, 100));
device.resize('org.vtcon.console', 132, 43);
device.send('org.vtcon.console', 'stty size\r');
await new Promise((r) => setTimeout(r, 100));
console.log(JSON.stringify(device.stats(), null, 2));

await driver.detach();
await backend.close();
await device.close();
rmSync(dir, { recursive: true, force: true });
