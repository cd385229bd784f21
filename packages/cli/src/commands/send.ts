import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { CliError, ExitCode } from '../cli/exit.js';
import { parseTarget } from '../cli/target.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function register(program: Command): void {
  program
    .command('send')
    .description('send input to a guest port (TEXT gets a trailing newline unless --raw; "-" reads stdin as is)')
    .argument('<VM:PORT>', 'target port')
    .argument('<TEXT|->', 'text to type, or - for stdin')
    .option('--raw', 'send TEXT exactly, without the trailing newline')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Examples:
  vtcon send web1:console 'uname -a'
  printf 'root\\n' | vtcon send web1:console -
  vtcon send db1:org.qemu.agent --raw '{"execute":"guest-ping"}'`)
    .action(async (targetArg: string, text: string, opts: { raw?: boolean; json?: boolean }, cmd: Command) => {
      const t = parseTarget(targetArg, true);
      const data = text === '-' ? await readStdin() : Buffer.from(opts.raw ? text : text + '\n');
      const r = await withClient(cmd.optsWithGlobals<GlobalOptions>(), (cl) =>
        cl.call<{ accepted: number; bytes: number }>('send', { vm: t.vm, port: t.port, data: data.toString('base64') }));
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      if (r.accepted < r.bytes) {
        throw new CliError(ExitCode.RUNTIME, `only ${r.accepted} of ${r.bytes} bytes were accepted: the port's backlog is full (the guest is not reading)`, 'check the guest with `vtcon ls` (BACKLOG column) and retry later');
      }
    });
}
