import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { printJson } from '../cli/output.js';
import type { PortInfo } from '../daemon/fleet.js';

export function register(program: Command): void {
  const port = program
    .command('port')
    .description('hot-add or remove a port on a running VM (VIRTIO_CONSOLE_DEVICE_ADD / DEVICE_REMOVE)')
    .addHelpText('after', `
Examples:
  vtcon port add web1 org.vtcon.trace
  vtcon port add web1 hvc1 --console
  vtcon port remove web1 org.vtcon.trace`);
  port
    .command('add')
    .description('add a port to a VM (the guest sees it appear)')
    .argument('<VM>', 'VM name')
    .argument('<NAME>', 'port name (what the guest sees in /sys/class/virtio-ports/*/name)')
    .option('--console', 'make it a console port (hvcN in a Linux guest)')
    .option('--json', 'print the new port as JSON')
    .action(async (vm: string, name: string, opts: { console?: boolean; json?: boolean }, cmd: Command) => {
      const r = await withClient(cmd.optsWithGlobals<GlobalOptions>(), (cl) => cl.call<{ port: PortInfo }>('port.add', { vm, port: name, console: Boolean(opts.console) }));
      if (opts.json) printJson(r);
      else process.stdout.write(`added ${vm}:${name} (id ${r.port.id}${r.port.console ? ', console' : ''}); attach with \`vtcon attach ${vm}:${name}\`\n`);
    });
  port
    .command('remove')
    .description('remove a port from a VM (the guest sees it go)')
    .argument('<VM>', 'VM name')
    .argument('<NAME>', 'port name')
    .action(async (vm: string, name: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), (cl) => cl.call('port.remove', { vm, port: name }));
      process.stdout.write(`removed ${vm}:${name}\n`);
    });
}
