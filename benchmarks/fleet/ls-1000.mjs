// `vtcon --nats URL ls` over 50 simulated hosts × 20 VMs × 2 ports (1,000 VMs) in the inventory
// KV; target under 1 s. Writes the records the way daemons' heartbeats do, then times the real
// CLI (process start included), the inventory read alone (in-process) and `vtcon --version` (the
// CLI's own start), `runs` times each. Part of the fleet suite (fleet-bench.mjs); standalone:
//   node benchmarks/fleet/ls-1000.mjs        (after building packages/cli)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cliDir, cliModule, nats, startNats } from './fleet-rig.mjs';

const HOSTS = 50;
const VMS = 20;

async function timeRuns(runs, fn) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)], min: ms[0], max: ms[ms.length - 1] };
}

export async function measureFleetLs({ natsUrl, runs = 5 }) {
  const { connect } = await nats.core();
  const { createInventory, putHost, hostRecord, readInventory } = await cliModule('fleet/inventory.js');
  const nc = await connect({ servers: natsUrl });
  try {
    const kv = await createInventory(nc);
    const portInfo = (name, console) => ({ name, id: 0, console, guestOpen: true, bytesIn: 123456, bytesOut: 789, backlog: 0, dropped: 0, attachPath: '', logFile: null, logError: null, size: { cols: 80, rows: 24 } });
    for (let h = 0; h < HOSTS; h++) {
      const vms = Array.from({ length: VMS }, (_, v) => ({ name: `vm${h}-${v}`, socket: '', state: 'connected', features: [], connectedSince: null, ports: [portInfo('console', true), portInfo('org.qemu.guest_agent.0', false)] }));
      await putHost(kv, hostRecord(`host${String(h).padStart(2, '0')}.example`, 5000, vms, () => 123456));
    }
    const env = { ...process.env, NO_COLOR: '1', VTCON_CLIENT_CONFIG: '/nonexistent/vtcon-client.yaml' };
    const bin = join(cliDir, 'dist/bin.js');
    let rows = 0;
    const inventoryReadMs = await timeRuns(runs, async () => {
      const r = await readInventory(nc);
      if (r.filter((x) => x.host.startsWith('host')).length !== HOSTS) throw new Error(`read ${r.length} hosts`);
    });
    const cliLsMs = await timeRuns(runs, () => {
      const r = spawnSync(process.execPath, [bin, '--nats', natsUrl, 'ls'], { encoding: 'utf8', env });
      if (r.status !== 0) throw new Error(r.stderr);
      rows = r.stdout.split('\n').length - 2;
    });
    const cliStartupMs = await timeRuns(runs, () => spawnSync(process.execPath, [bin, '--version'], { env }));
    return { hosts: HOSTS, vms: HOSTS * VMS, rows, runs, inventoryReadMs, cliLsMs, cliStartupMs };
  } finally {
    await nc.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startNats();
  try {
    console.log(JSON.stringify(await measureFleetLs({ natsUrl: server.url })));
  } finally {
    await server.close();
  }
}
