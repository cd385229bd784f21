import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { bytes, c, printJson, table } from '../cli/output.js';
import type { VmInfo } from '../daemon/fleet.js';
import { fleetNats } from '../fleet/route.js';

export function renderFleet(vms: VmInfo[]): string {
  if (vms.length === 0) return 'no VMs configured (add some to the config and send the daemon SIGHUP)';
  const rows: string[][] = [];
  for (const vm of vms) {
    const state = vm.state === 'connected' ? c.green(vm.state) : vm.state === 'listening' ? c.yellow(vm.state) : c.red(vm.state);
    for (const [i, p] of vm.ports.entries()) {
      rows.push([
        i === 0 ? vm.name : '',
        i === 0 ? state : '',
        p.name + (p.console ? c.dim(' (console)') : ''),
        String(p.id),
        p.guestOpen ? 'open' : c.dim('closed'),
        bytes(p.bytesIn),
        bytes(p.bytesOut),
        bytes(p.backlog),
        p.size ? `${p.size.cols}x${p.size.rows}` : '-',
      ]);
    }
    if (vm.ports.length === 0) rows.push([vm.name, state, c.dim('(no ports)'), '', '', '', '', '', '']);
  }
  return table(['VM', 'STATE', 'PORT', 'ID', 'GUEST', 'IN', 'OUT', 'BACKLOG', 'SIZE'], rows);
}

export function register(program: Command): void {
  program
    .command('ls')
    .description('list VMs with connection state, negotiated features, and ports (open state, bytes in/out, backlog)')
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', `
Examples:
  vtcon ls
  vtcon ls --json | jq '.vms[].name'`)
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const nats = await fleetNats(cmd.optsWithGlobals());
      if (nats) return (await import('../fleet/cli.js')).ls(nats, Boolean(opts.json));
      const { vms } = await withClient(cmd.optsWithGlobals<GlobalOptions>(), (cl) => cl.call<{ vms: VmInfo[] }>('ls'));
      if (opts.json) return printJson({ vms });
      process.stdout.write(renderFleet(vms) + '\n');
      for (const v of vms) {
        for (const p of v.ports) if (p.logError) process.stdout.write(c.red(`${v.name}:${p.name}: log file not written: ${p.logError}`) + '\n');
      }
      const feats = vms.filter((v) => v.features.length > 0);
      for (const v of feats) process.stdout.write(c.dim(`${v.name}: ${v.features.join(' ')}`) + '\n');
    });
}
