import type { Command } from 'commander';
import { callTarget } from '../fleet/route.js';

export function register(program: Command): void {
  program
    .command('break')
    .description("send the guest's break sequence (per-VM `break:` setting: linux-sysrq = ^O + KEY on hvc, freebsd-altbreak = CR ~ ^B, or custom bytes)")
    .argument('<VM:PORT>', 'target port')
    .option('--key <K>', 'sysrq key for linux-sysrq (h = help, s = sync, ...)', 'h')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Examples:
  vtcon break web1:console            # Linux: ^O h, prints the sysrq help
  vtcon break web1:console --key s    # Linux: emergency sync
  vtcon break bsd1:console            # FreeBSD (break: freebsd-altbreak): enters the debugger`)
    .action(async (targetArg: string, opts: { key: string; json?: boolean }, cmd: Command) => {
      const { r, label } = await callTarget<{ sequence: number[] }>(cmd.optsWithGlobals(), targetArg, true, 'break', (t) => ({ vm: t.vm, port: t.port, key: opts.key }));
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`sent ${r.sequence.map((b) => '0x' + b.toString(16).padStart(2, '0')).join(' ')} to ${label}\n`);
    });
}
