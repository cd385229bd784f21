import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { demoRecordPath, type DemoRecord, type GlobalOptions } from '../cli/context.js';
import { CliError } from '../errors.js';
import { c } from '../cli/output.js';
import type { Config } from '../config/schema.js';
import { MAX_PORTS } from '../config/limits.js';
import type { Fleet } from '../daemon/fleet.js';
import { renderFleet } from './ls.js';
import type { WebLaunch } from '../web/launch.js';

interface DemoOpts { guests: number; ports: number; duration?: number; runtimeDir?: string; refresh: number; web?: boolean | string }

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError('USAGE', `${name} must be a whole number from ${min} to ${max}`);
  return n;
};

/**
 * How the printed command lines invoke vtcon: the repository's ./vtcon wrapper when that is how
 * the demo was started (relative to the current directory when it is inside the checkout), else
 * the name on PATH when the binary was installed as `vtcon`, else node and this file.
 */
function selfCommand(): string {
  const wrapper = process.env.VTCON_WRAPPER;
  if (wrapper) {
    const rel = relative(process.cwd(), wrapper);
    return rel.startsWith('..') || rel === '' ? wrapper : rel.includes('/') ? rel : `./${rel}`;
  }
  const script = process.argv[1] ?? '';
  return basename(script) === 'vtcon' ? 'vtcon' : `node ${script}`;
}

/** Records this demo for other terminals (see controlSocket); the newest demo wins. */
function writeRecord(path: string, rec: DemoRecord): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(rec) + '\n', { mode: 0o600 });
}

/** The record is this process's (a later demo may have replaced it). */
function ownsRecord(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as Partial<DemoRecord>).pid === process.pid;
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('start a daemon plus simulated guests (the seed driver model over real vhost-user sockets) and show the fleet live')
    .option('--guests <N>', 'number of simulated guests', int('--guests', 1, 128), 3)
    .option('--ports <P>', 'ports per guest (the first is the console)', int('--ports', 1, MAX_PORTS), 2)
    .option('--duration <S>', 'exit after S seconds (default: until Ctrl-C)', int('--duration', 1, 86400))
    .option('--refresh <S>', 'seconds between fleet tables when not on a TTY', int('--refresh', 1, 3600), 5)
    .option('--runtime-dir <DIR>', 'where sockets and logs go (default: a fresh temp dir, removed on exit)')
    .option('--web [HOST:PORT]', 'also serve the fleet page with browser consoles (default 127.0.0.1:8080; port 0 picks a free one)')
    .addHelpText('after', `
Each guest is @vtcon/console's SimulatedGuest on the seed's virtio-console driver model,
connected to the daemon over a real vhost-user socket: a boot banner, then a shell that echoes
what you type and answers \`stty size\`, \`uname\`, \`hostname\`, \`tty\` and \`echo ...\`.
It needs the device stack and its native addon; if they are missing the demo exits 1 and says
how to build them (\`./vtcon\` from the repository root installs and builds on first use).

The control socket is --socket PATH or $VTCON_SOCKET when given, else
<runtime dir>/control.sock. The demo records it in $XDG_RUNTIME_DIR/vtcon/demo.json (or
/tmp/vtcon-$UID/demo.json), where vtcon looks when $VTCON_SOCKET is unset and no daemon runs at
the default socket: \`./vtcon attach demo1\` from another terminal finds the demo.
Ctrl-C, SIGTERM, SIGHUP (its terminal closed) and --duration stop it and remove its runtime dir.

Examples:
  ./vtcon demo                       # from the repository root
  ./vtcon demo --guests 8 --ports 4
  ./vtcon demo --duration 30         # exits by itself
  ./vtcon demo --web                 # plus the web console; prints its URL and a login token

Then, from another terminal in the same directory:
  ./vtcon attach demo1               # Ctrl-] then . to detach
  (the demo also prints an export VTCON_SOCKET=... line, to name its socket explicitly)`)
    .action(async (opts: DemoOpts, cmd: Command) => {
      // Loaded here, not at the top: every other command starts without the daemon's modules.
      const [{ demoConfig }, { createFleet }, { Daemon, makeLogger }, { startConsoleGuests }, { webSchema }] = await Promise.all([
        import('../config/default.js'), import('../daemon/create-fleet.js'), import('../daemon/daemon.js'),
        import('../daemon/console-guests.js'), import('../web/web-config.js'),
      ]);
      const runtimeDir = opts.runtimeDir ?? mkdtempSync(join(tmpdir(), 'vtcon-demo-'));
      const ownDir = !opts.runtimeDir;
      const config: Config = demoConfig({ runtimeDir, guests: opts.guests, ports: opts.ports });
      const control = cmd.optsWithGlobals<GlobalOptions>().socket ?? (process.env.VTCON_SOCKET || undefined);
      // A control socket outside the runtime dir (e.g. a stale export from an earlier demo): the
      // directories created for it are removed on exit, like the runtime dir.
      let createdForControl: string | undefined;
      if (control) {
        config.daemon.control = control;
        createdForControl = mkdirSync(dirname(control), { recursive: true, mode: 0o700 });
      }
      const record = demoRecordPath();
      const cleanUp = () => {
        if (ownDir) rmSync(runtimeDir, { recursive: true, force: true });
        if (ownsRecord(record)) rmSync(record, { force: true });
        if (createdForControl) rmSync(createdForControl, { recursive: true, force: true });
      };
      const logger = makeLogger(config);
      const holder: { fleet: Fleet | null } = { fleet: null };
      const daemon = new Daemon({
        config,
        logger,
        createFleet: async (cfg, log) => (holder.fleet = await createFleet(cfg, log)),
      });
      let guests: { stop(): Promise<void> } | undefined;
      let web: WebLaunch | undefined;
      try {
        await daemon.start();
        guests = await startConsoleGuests(config.vms);
        if (opts.web) {
          const listen = typeof opts.web === 'string' ? opts.web : '127.0.0.1:8080';
          const parsed = webSchema.safeParse({ listen, tokenFile: join(runtimeDir, 'web-tokens') });
          if (!parsed.success) throw new CliError('USAGE', `--web ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
          web = await (await import('../web/launch.js')).launchWeb(parsed.data, daemon.controlPath);
        }
      } catch (err) {
        await guests?.stop();
        await daemon.stop();
        cleanUp();
        if ((err as { reason?: string }).reason === 'DAEMON_RUNNING') {
          throw new CliError('RUNTIME', (err as Error).message, { hint: `the demo uses $VTCON_SOCKET / --socket when set: \`unset VTCON_SOCKET\` to give the demo its own socket` });
        }
        throw err;
      }
      const fleet = holder.fleet!;
      const sock = daemon.controlPath;
      writeRecord(record, { pid: process.pid, control: sock, runtimeDir });
      const self = selfCommand();
      const first = config.vms[0]!;
      process.stdout.write([
        c.bold(`vtcon demo: ${opts.guests} guest(s) x ${opts.ports} port(s); runtime dir ${runtimeDir}`),
        'guests: the seed driver model over real vhost-user sockets',
        `vtcon in another terminal finds this demo (${record}); the export line names it explicitly`,
        '',
        `From another terminal${self.startsWith('./') ? ' in this directory' : ''}:`,
        `  export VTCON_SOCKET=${sock}`,
        `  ${self} ls`,
        `  ${self} attach ${first.name}            ${c.dim('# Ctrl-] then . to detach')}`,
        `  ${self} attach ${first.name}:console --read-only`,
        `  ${self} send ${first.name}:console 'echo hello'`,
        `  ${self} logs -f ${first.name}:console`,
        `  ${self} stats --watch`,
        '',
        ...(web ? [
          `Web console: ${web.server.url}  (log in with the write token ${web.writeToken}; a read-only token is in ${web.tokenFile})`,
          '',
        ] : []),
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
        // The demo's terminal closed: stop and clean up all the same (nothing left to show it on).
        process.once('SIGHUP', () => {
          process.stdout.on('error', () => undefined);
          stop();
        });
        if (opts.duration) setTimeout(stop, opts.duration * 1000).unref();
      });
      clearInterval(timer);
      if (tty) process.stdout.write('\x1b[J');
      await web?.server.close();
      await guests!.stop();
      await daemon.stop();
      cleanUp();
      process.stdout.write('vtcon demo: stopped\n');
    });
}
