import type { Command } from 'commander';
import { parseSize } from '../cli/target.js';
import { callTarget } from '../fleet/route.js';

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
      const size = parseSize(sizeArg);
      await callTarget(cmd.optsWithGlobals(), targetArg, true, 'resize', (t) => ({ vm: t.vm, port: t.port, ...size }));
    });
}
