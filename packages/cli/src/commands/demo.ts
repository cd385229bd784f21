import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CliError, ExitCode } from '../cli/exit.js';
import { c } from '../cli/output.js';
import { demoConfig } from '../config/default.js';
import type { Config } from '../config/schema.js';
import { createFleet } from '../daemon/create-fleet.js';
import { Daemon, makeLogger } from '../daemon/daemon.js';
import type { Fleet } from '../daemon/fleet.js';
import { renderFleet } from './ls.js';
import { SimFleet } from '../daemon/sim-fleet.js';
import { startConsoleGuests } from '../daemon/console-guests.js';

interface DemoOpts { guests: number; ports: number; duration?: number; runtimeDir?: string; refresh: number; simulate?: boolean }

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(ExitCode.USAGE, `${name} must be a whole number from ${min} to ${max}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('demo')
    .description('start a daemon plus simulated guests (the seed driver model over real vhost-user sockets) and show the fleet live')
    .option('--guests <N>', 'number of simulated guests', int('--guests', 1, 128), 3)
    .option('--ports <P>', 'ports per guest (the first is the console)', int('--ports', 1, 32), 2)
    .option('--duration <S>', 'exit after S seconds (default: until Ctrl-C)', int('--duration', 1, 86400))
    .option('--refresh <S>', 'seconds between fleet tables when not on a TTY', int('--refresh', 1, 3600), 5)
    .option('--runtime-dir <DIR>', 'where sockets and logs go (default: a fresh temp dir, removed on exit)')
    .option('--simulate', 'in-process guests without virtio (no native addon needed)')
    .addHelpText('after', `
Examples:
  vtcon demo
  vtcon demo --guests 8 --ports 4
  vtcon demo --duration 30           # exits by itself (used by the tests)

Then, from another terminal, use the commands the demo prints, e.g.:
  VTCON_SOCKET=/tmp/vtcon-demo-XXXX/control.sock vtcon attach demo1`)
    .action(async (opts: DemoOpts) => {
      const runtimeDir = opts.runtimeDir ?? mkdtempSync(join(tmpdir(), 'vtcon-demo-'));
      const ownDir = !opts.runtimeDir;
      const config: Config = demoConfig({ runtimeDir, guests: opts.guests, ports: opts.ports });
      const logger = makeLogger(config);
      const holder: { fleet: Fleet | null } = { fleet: null };
      const daemon = new Daemon({
        config,
        logger,
        createFleet: async (cfg, log) => (holder.fleet = await createFleet(cfg, log, { simulate: Boolean(opts.simulate) })),
      });
      await daemon.start();
      const fleet = holder.fleet!;
      const guests = await startGuests(config, fleet);
      const sock = daemon.controlPath;
      const wrapper = process.env.VTCON_WRAPPER;
      const self = wrapper ? (dirname(wrapper) === process.cwd() ? './vtcon' : wrapper) : 'vtcon';
      const first = config.vms[0]!;
      process.stdout.write([
        c.bold(`vtcon demo: ${opts.guests} guest(s) x ${opts.ports} port(s); runtime dir ${runtimeDir}`),
        fleet instanceof SimFleet
          ? c.yellow('guests: in-process simulation (no virtio: the device stack is not available or --simulate was given)')
          : 'guests: the seed driver model over real vhost-user sockets',
        '',
        'From another terminal:',
        `  export VTCON_SOCKET=${sock}`,
        `  ${self} ls`,
        `  ${self} attach ${first.name}            ${c.dim('# Ctrl-] then . to detach')}`,
        `  ${self} attach ${first.name}:console --read-only`,
        `  ${self} send ${first.name}:console 'echo hello'`,
        `  ${self} logs -f ${first.name}:console`,
        `  ${self} stats --watch`,
        '',
      ].join('\n') + '\n');

      const tty = process.stdout.isTTY === true;
      const show = () => {
        const table = renderFleet(fleet.list());
        if (tty) process.stdout.write('\x1b[s\x1b[J' + table + '\n' + c.dim('(Ctrl-C to stop)') + '\x1b[u');
        else process.stdout.write(`--- ${new Date().toISOString()}\n${table}\n`);
      };
      show();
      const timer = setInterval(show, tty ? 1000 : opts.refresh * 1000);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (opts.duration) setTimeout(stop, opts.duration * 1000).unref();
      });
      clearInterval(timer);
      if (tty) process.stdout.write('\x1b[J');
      await guests.stop();
      await daemon.stop();
      if (ownDir) rmSync(runtimeDir, { recursive: true, force: true });
      process.stdout.write('vtcon demo: stopped\n');
    });
}

/**
 * Starts one simulated guest per VM: the seed's driver model over a real vhost-user connection
 * when @vtcon/console provides SimulatedGuest; SimFleet's guests are already running otherwise.
 */
async function startGuests(config: Config, fleet: Fleet): Promise<{ stop(): Promise<void> }> {
  if (fleet instanceof SimFleet) return { stop: async () => undefined };
  return startConsoleGuests(config.vms);
}
