import type { Command } from 'commander';
import { controlSocket, type GlobalOptions } from '../cli/context.js';
import { holderStatusPath, readHolderStatus } from '../cli/holder-status.js';
import { printJson } from '../cli/output.js';
import { CliError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('upgrade')
    .description('replace the running engine with one started from the code now on disk; the VMs keep their connections')
    .option('--timeout <s>', 'give up waiting after this many seconds', (v) => Number(v), 60)
    .option('--json', 'print the outcome as JSON')
    .addHelpText('after', `
\`vtcon serve\` is a holder (it keeps every VM's vhost-user connection) and an engine (the rest).
upgrade asks the holder (SIGUSR2) to start a new engine from the installed code, check that it can
adopt the kept state, retire the old engine and hand every connection over. Guests see a pause;
no console byte is lost or repeated. A new engine that refuses the state or dies first leaves
the old one running, and upgrade exits 1 saying why.

Exit codes: 0 upgraded; 1 refused or failed (the old engine still serves); 3 no holder.

Examples:
  vtcon upgrade
  vtcon upgrade --json | jq .pid`)
    .action(async (opts: { timeout: number; json?: boolean }, cmd: Command) => {
      const control = controlSocket(cmd.optsWithGlobals<GlobalOptions>());
      const before = readHolderStatus(control);
      if (!before) {
        throw new CliError('UNAVAILABLE', `no holder for ${control} (no live ${holderStatusPath(control)})`, {
          hint: 'upgrade needs `vtcon serve` with its holder (daemon.holder: true, the default); a daemon without one is upgraded by restarting it',
        });
      }
      const asked = Date.now();
      process.kill(before.holderPid, 'SIGUSR2');
      const deadline = asked + opts.timeout * 1000;
      for (;;) {
        const s = readHolderStatus(control);
        const u = s?.upgrade;
        if (u && Date.parse(u.at) >= asked - 1000 && u.result !== 'started') {
          const out = { result: u.result, pid: u.pid, previousPid: before.engine?.pid ?? null, reason: u.reason };
          if (opts.json) printJson(out);
          else if (u.result === 'done') process.stdout.write(`engine upgraded: pid ${before.engine?.pid ?? '-'} → ${u.pid}\n`);
          if (u.result !== 'done') throw new CliError('RUNTIME', `upgrade ${u.result}: ${u.reason ?? 'no reason given'}; the old engine still serves`);
          return;
        }
        if (!s) throw new CliError('UNAVAILABLE', 'the holder went away during the upgrade');
        if (Date.now() > deadline) throw new CliError('RUNTIME', `no outcome within ${opts.timeout} s (holder status: ${s.engineState})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
}
