// Run: npm run build (in packages/console), then node examples/worker-pool.mjs
// Eight VMs whose port queues are serviced by a 2-thread piscina pool; each guest writes 1 MiB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleDevice, ConsoleWorkerPool } from '@vtcon/console';
import { connectGuest, serveDevice } from '@vtcon/console/testing';

const dir = mkdtempSync(join(tmpdir(), 'vtcon-pool-'));
const pool = new ConsoleWorkerPool({ threads: 2 });
const vms = [];
let bytes = 0;
for (let i = 0; i < 8; i++) {
  const socket = join(dir, `vm${i}.sock`);
  const device = new ConsoleDevice({ ports: [{ name: `vm${i}.console`, console: true }], engine: (host) => pool.createEngine(host) });
  device.on('data', (_p, b) => { bytes += b.length; });
  vms.push({ device, backend: serveDevice(socket, device), socket });
}
const t0 = Date.now();
const guests = await Promise.all(vms.map((v) => connectGuest(v.socket, { txChunk: 4096, txInflight: 16 })));
await Promise.all(guests.map(async ({ driver }) => {
  while (!driver.portById(0)?.console) await new Promise((r) => setTimeout(r, 5));
  await driver.portById(0).write(new Uint8Array(1 << 20));
}));
console.log(`${(bytes / 1048576).toFixed(1)} MiB in ${Date.now() - t0} ms; shards:`, pool.stats());
for (const { driver } of guests) await driver.detach();
for (const v of vms) { await v.backend.close(); await v.device.close(); }
await pool.close();
rmSync(dir, { recursive: true, force: true });
