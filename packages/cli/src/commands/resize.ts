import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { parseSize, parseTarget } from '../cli/target.js';

export function register(program: Command): void {
  program
    .command('resize')
    .description('set the terminal size the guest sees on a console port (VIRTIO_CONSOLE_RESIZE, or config space + config-change in single-port mode)')
    .argument('<VM:PORT>', 'target port')
    .argument('<COLSxROWS>', 'new size, e.g. 120x40')
    .addHelpText('after', `
Examples:
  vtcon resize web1:console 120x40`)
    .action(async (targetArg: string, sizeArg: string, _opts: unknown, cmd: Command) => {
      const t = parseTarget(targetArg, true);
      const size = parseSize(sizeArg);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), (cl) => cl.call('resize', { vm: t.vm, port: t.port, ...size }));
    });
}
