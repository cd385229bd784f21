#!/usr/bin/env node
// vtcon: the fleet daemon and CLI. One commander program; one module per command in commands/.
// Every failure ends here as a CliError: message, what to do next, and a documented exit code.
import { Command, CommanderError } from 'commander';
import { classify, CliError, EXIT_CODES_HELP, ExitCode } from './cli/exit.js';
import { c, disableColor } from './cli/output.js';
import { register as attach } from './commands/attach.js';
import { register as bench } from './commands/bench.js';
import { register as brk } from './commands/break.js';
import { register as demo } from './commands/demo.js';
import { register as logs } from './commands/logs.js';
import { register as ls } from './commands/ls.js';
import { register as port } from './commands/port.js';
import { register as resize } from './commands/resize.js';
import { register as send } from './commands/send.js';
import { register as serve } from './commands/serve.js';
import { register as stats } from './commands/stats.js';
import { register as who } from './commands/who.js';
import { register as guest } from './commands/guest.js';
import { register as web } from './commands/web.js';
import { register as upgrade } from './commands/upgrade.js';

export function buildProgram(): Command {
  const program = new Command('vtcon')
    .description('vtcon: virtio-console multiplexer for VM fleets (vhost-user backend daemon + CLI)')
    .version('0.1.0')
    .option('-s, --socket <PATH>', 'daemon control socket (default: $VTCON_SOCKET, else $XDG_RUNTIME_DIR/vtcon/control.sock or /tmp/vtcon-$UID/control.sock)')
    .option('--nats <URL>', 'fleet mode: talk to every host through NATS (default: $VTCON_NATS); targets become HOST/VM:PORT')
    .option('--no-color', 'never colour output (colour is used only on a TTY and when NO_COLOR is unset)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(c.red(str, process.stderr)) })
    .addHelpText('after', `
Quick start (from the repository root; ./vtcon installs and builds on first use):
  ./vtcon demo                     # daemon + simulated guests over vhost-user, shows the fleet
  ./vtcon attach demo1             # in another terminal, after the export line the demo prints
  ./vtcon demo --web               # the same, plus the fleet page and browser consoles

Every client command finds the daemon at --socket PATH, else $VTCON_SOCKET, else the default.

Examples:
  vtcon serve --config fleet.yaml
  vtcon ls --json
  vtcon logs -f web1:console
  vtcon send web1:console 'uname -a'

${EXIT_CODES_HELP}`);
  program.hook('preAction', (cmd) => {
    if (cmd.opts<{ color?: boolean }>().color === false) disableColor();
  });
  for (const reg of [serve, upgrade, ls, attach, logs, send, brk, who, resize, port, stats, demo, bench, guest, web]) reg(program);
  program.exitOverride();
  for (const sub of program.commands) {
    sub.exitOverride();
    for (const s of sub.commands) s.exitOverride();
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version end here with exitCode 0; parse errors were already printed.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    const e = classify(err);
    process.stderr.write(`${c.red('vtcon:', process.stderr)} ${e.message}\n`);
    if (e.hint) process.stderr.write(`  ${e.hint}\n`);
    if (process.env.VTCON_DEBUG && err instanceof Error && !(err instanceof CliError)) process.stderr.write(`${err.stack}\n`);
    return e.exitCode;
  }
}

const code = await main(process.argv);
// Commands that hold handles (serve) never return; everyone else may still have a socket
// closing, so exit explicitly once stdout has taken everything (pipes may buffer).
if (process.stdout.writableLength === 0) process.exit(code);
else process.stdout.once('drain', () => process.exit(code));
