import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { bytes, printJson, table } from '../cli/output.js';
import type { FleetStats } from '../daemon/fleet.js';
import { fleetNats } from '../fleet/route.js';

/** Rates between two snapshots, per port. */
export function renderStats(cur: FleetStats, prev: FleetStats | null): string {
  const dt = prev ? (Date.parse(cur.at) - Date.parse(prev.at)) / 1000 : 0;
  const rows: string[][] = [];
  for (const vm of cur.vms) {
    for (const p of vm.ports) {
      const old = prev?.vms.find((v) => v.name === vm.name)?.ports.find((x) => x.name === p.name);
      const rate = (a: number, b: number | undefined) => (dt > 0 && b !== undefined ? `${bytes(Math.max(0, (a - b) / dt))}/s` : '-');
      const readers = p.readers ?? [];
      const lag = readers.length === 0 ? '-' : `${readers.length}, max lag ${bytes(Math.max(...readers.map((x) => x.lagBytes)))}`;
      rows.push([vm.name, vm.state, p.name, bytes(p.bytesIn), rate(p.bytesIn, old?.bytesIn), bytes(p.bytesOut), rate(p.bytesOut, old?.bytesOut), bytes(p.backlog), String(p.dropped), lag]);
    }
  }
  const t = table(['VM', 'STATE', 'PORT', 'IN', 'IN/S', 'OUT', 'OUT/S', 'BACKLOG', 'DROPPED', 'READERS'], rows);
  const w = cur.workers ?? [];
  if (w.length === 0) return t;
  const shards = w.map((s) => `#${s.shard} ${s.alive ? 'up' : 'down'} ${s.queues} queues${s.restarts ? `, ${s.restarts} restarts` : ''}`).join('; ');
  return `${t}\nworkers: ${shards}`;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('throughput and backlog per VM and port')
    .option('--watch', 'keep printing (refreshing in place on a TTY) until Ctrl-C')
    .option('--interval <ms>', 'refresh interval for --watch', (v) => Number(v), 1000)
    .option('--json', 'print JSON (one object per line with --watch)')
    .addHelpText('after', `
Examples:
  vtcon stats
  vtcon stats --watch
  vtcon stats --watch --json | jq -c '.vms[] | {name, ports}'`)
    .action(async (opts: { watch?: boolean; json?: boolean; interval: number }, cmd: Command) => {
      const nats = await fleetNats(cmd.optsWithGlobals());
      if (nats) return (await import('../fleet/cli.js')).stats(nats, Boolean(opts.json));
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (cl) => {
        if (!opts.watch) {
          const s = await cl.call<FleetStats>('stats');
          if (opts.json) printJson(s);
          else process.stdout.write(renderStats(s, null) + '\n');
          return;
        }
        let prev: FleetStats | null = null;
        const show = (s: FleetStats) => {
          if (opts.json) process.stdout.write(JSON.stringify(s) + '\n');
          else {
            if (process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
            process.stdout.write(renderStats(s, prev) + '\n\n');
          }
          prev = s;
        };
        const { first, done } = cl.stream<FleetStats>('stats.watch', { intervalMs: opts.interval }, (_e, data) => show(data as FleetStats));
        show(await first);
        process.once('SIGINT', () => cl.close());
        await done;
      });
    });
}
