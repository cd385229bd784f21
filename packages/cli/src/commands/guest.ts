import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('guest', { hidden: true })
    .description('run simulated guests (the seed driver model) against vhost-user sockets of a running `vtcon serve`')
    .argument('<NAME=SOCKET...>', 'guest hostname and the VM socket it connects to')
    .option('--duration <S>', 'exit after S seconds', (v) => Number(v))
    .addHelpText('after', `
Examples:
  vtcon serve -c fleet.yaml &
  vtcon guest web1=/run/vtcon/web1.sock db1=/run/vtcon/db1.sock`)
    .action(async (specs: string[], opts: { duration?: number }) => {
      const vms = specs.map((s) => {
        const i = s.indexOf('=');
        return i > 0 ? { name: s.slice(0, i), socket: s.slice(i + 1) } : { name: 'guest', socket: s };
      });
      const { startConsoleGuests } = await import('../daemon/console-guests.js');
      const guests = await startConsoleGuests(vms);
      process.stderr.write(`vtcon guest: ${vms.length} simulated guest(s) connected\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        if (opts.duration) setTimeout(resolve, opts.duration * 1000).unref();
      });
      await guests.stop();
    });
}
