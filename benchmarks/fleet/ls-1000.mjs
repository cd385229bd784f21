// A one-off check, not part of `npm run bench` yet: `vtcon --nats URL ls` over 50 simulated hosts
// × 20 VMs × 2 ports (1,000 VMs) in the inventory KV; target under 1 s. Starts its own
// nats-server (scripts/nats-server.sh provides it) on a free loopback port, writes the records
// the way daemons' heartbeats do, then times the real CLI (process start included) and the
// inventory read alone (in-process), best of 5 each.
//   node benchmarks/fleet/ls-1000.mjs        (after building packages/cli)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'packages/cli');
const { connect } = await import(join(cli, 'node_modules/@nats-io/transport-node/lib/mod.js')).catch(() => import('@nats-io/transport-node'));
const { createInventory, putHost, hostRecord, readInventory } = await import(join(cli, 'dist/fleet/inventory.js'));

const HOSTS = 50, VMS = 20;
const port = await new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const dir = mkdtempSync(join(tmpdir(), 'vtcon-ls-bench-'));
const server = spawn(join(root, '.cache/nats-server/bin/nats-server'), ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
server.stderr.setEncoding('utf8').on('data', (d) => (log += d));
while (!log.includes('Server is ready')) await new Promise((r) => setTimeout(r, 50));
const url = `nats://127.0.0.1:${port}`;
try {
  const nc = await connect({ servers: url });
  const kv = await createInventory(nc);
  const portInfo = (name, console) => ({ name, id: 0, console, guestOpen: true, bytesIn: 123456, bytesOut: 789, backlog: 0, dropped: 0, attachPath: '', logFile: null, logError: null, size: { cols: 80, rows: 24 } });
  for (let h = 0; h < HOSTS; h++) {
    const vms = Array.from({ length: VMS }, (_, v) => ({ name: `vm${h}-${v}`, socket: '', state: 'connected', features: [], connectedSince: null, ports: [portInfo('console', true), portInfo('org.qemu.guest_agent.0', false)] }));
    await putHost(kv, hostRecord(`host${String(h).padStart(2, '0')}.example`, 5000, vms, () => 123456));
  }
  const best = async (fn) => { let b = Infinity; for (let i = 0; i < 5; i++) { const t = performance.now(); await fn(); b = Math.min(b, performance.now() - t); } return b; };
  const read = await best(async () => { const r = await readInventory(nc); if (r.length !== HOSTS) throw new Error(`read ${r.length} hosts`); });
  let rows = 0;
  const whole = await best(() => {
    const r = spawnSync(process.execPath, [join(cli, 'dist/bin.js'), '--nats', url, 'ls'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    if (r.status !== 0) throw new Error(r.stderr);
    rows = r.stdout.split('\n').length - 2;
  });
  const idle = await best(() => spawnSync(process.execPath, [join(cli, 'dist/bin.js'), '--version']));
  await nc.close();
  console.log(JSON.stringify({ hosts: HOSTS, vms: HOSTS * VMS, rows, inventoryReadMs: +read.toFixed(1), cliLsMs: +whole.toFixed(0), cliStartupMs: +idle.toFixed(0) }));
} finally {
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
