import type { Command } from 'commander';
import { bytes, c, printJson, table } from '../cli/output.js';
import { callTarget } from '../fleet/route.js';
import type { AttachedClient } from '../daemon/fleet.js';

export function register(program: Command): void {
  program
    .command('who')
    .description('show who is attached to a port: the writer and the read-only spectators, since when, and how far behind the output each is')
    .argument('<VM:PORT>', 'target port')
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', `
Examples:
  vtcon who web1:console
  vtcon who web1:console --json`)
    .action(async (targetArg: string, opts: { json?: boolean }, cmd: Command) => {
      const { r, label } = await callTarget<{ clients: AttachedClient[] }>(cmd.optsWithGlobals(), targetArg, true, 'who', (t) => ({ vm: t.vm, port: t.port }));
      if (opts.json) return printJson(r);
      if (r.clients.length === 0) return void process.stdout.write(`nobody is attached to ${label}\n`);
      process.stdout.write(table(['ROLE', 'SINCE', 'LAG', 'PEER'], r.clients.map((x) => [
        x.role === 'writer' ? c.green(x.role) : x.role, x.since, bytes(x.lagBytes ?? 0) + (x.skippedBytes ? ` (${bytes(x.skippedBytes)} skipped)` : ''), x.peer,
      ])) + '\n');
    });
}
