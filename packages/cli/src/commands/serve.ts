// The daemon's modules (config parser, pino, the device stack) load in the action: every other
// command starts without them.
import type { Command } from 'commander';
import { CliError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: listen on every VM\'s vhost-user socket and serve the control API')
    .requiredOption('-c, --config <FILE>', 'fleet config (YAML or JSON)')
    .option('--log-level <LEVEL>', 'override daemon.logLevel (fatal|error|warn|info|debug|trace|silent)')
    .option('--no-holder', 'one process: no holder keeping the VMs\' connections across engine restarts (daemon.holder: false)')
    .addHelpText('after', `
Needs the device stack (@vtcon/console, @vtcon/transport and its native addon); if a piece is
missing, serve exits 1 and says how to build it (\`npm ci\` from the repository root).
The control socket is daemon.control from the config, else $VTCON_SOCKET, else the default.

With a web: section (listen, tokens or tokenFile, tls, origins) serve also hosts the web
console (\`vtcon web --help\`).

Processes: serve is a small holder that keeps every VM's vhost-user connection, and an engine
(a child) that does the work. When the engine dies (crash, OOM, kill -9) a standby engine takes
the connections over: guests see a pause, no byte is lost or repeated. \`vtcon upgrade\` (or
SIGUSR2 to serve) starts an engine from the code now on disk and hands over the same way.

Signals: SIGTERM/SIGINT drain the consoles, flush every log file and exit 0;
         SIGHUP re-reads the config and adds/removes VMs and ports without touching the others;
         SIGUSR2 upgrades the engine.

Examples:
  vtcon serve --config /etc/vtcon/fleet.yaml
  vtcon serve -c fleet.yaml --log-level debug 2>daemon.log
  kill -HUP "$(pgrep -f 'vtcon serve')"   # reload after editing fleet.yaml

QEMU side, per VM (path = the VM's "socket:"; num_vqs = 2 + 2 x maxPorts, maxPorts defaulting
to max(number of ports, 8); guest RAM must be a shared memfd; start vtcon first):
  -object memory-backend-memfd,id=mem,size=1G,share=on -machine q35,memory-backend=mem
  -chardev socket,id=vu,path=/run/vtcon/web1.vhost.sock
  -device vhost-user-test-device-pci,chardev=vu,virtio-id=3,num_vqs=18,config_size=12
No reconnect-ms: QEMU 11.1.3 with it aborts when vtcon restarts (see the README).`)
    .action(async (opts: { config: string; logLevel?: string; holder: boolean }) => {
      // Sockets 0600 and directories 0700 whatever the caller's umask: what the daemon creates
      // (and what the lower layers create for it) is its user's only.
      process.umask(0o077);
      const [{ loadConfigFile }, { Daemon, probeSocket, controlPathOf }, { createFleet }] = await Promise.all([
        import('../config/load.js'), import('../daemon/daemon.js'), import('../daemon/create-fleet.js'),
      ]);
      const config = loadConfigFile(opts.config);
      if (opts.logLevel) config.daemon.logLevel = opts.logLevel as typeof config.daemon.logLevel;
      if (process.env.VTCON_HOLDER_FD !== undefined) return (await import('../daemon/engine-main.js')).runEngine(config, opts.config);
      if (config.daemon.holder && opts.holder) {
        if (await probeSocket(controlPathOf(config))) throw new CliError('DAEMON_RUNNING', `a daemon is already running at ${controlPathOf(config)} (stop it, or set daemon.control in the config)`);
        return (await import('../daemon/holder-main.js')).runHolder(config);
      }
      const daemon = new Daemon({ config, configPath: opts.config, createFleet, handleSignals: true });
      await daemon.start();
      for (const v of daemon.skipped) process.stderr.write(`vtcon: VM ${v.vm} not served (${v.reason}): ${v.message}\n`);
      process.stderr.write(`vtcon: serving ${config.vms.length - daemon.skipped.length} VM(s); control socket ${daemon.controlPath}\n`);
      if (config.web) {
        const web = await (await import('../web/launch.js')).launchWeb(config.web, daemon.controlPath);
        process.stderr.write(`vtcon: web console ${web.server.url}${web.tokenFile ? `; login tokens in ${web.tokenFile}` : ''}\n`);
      }
      // Stay alive until a signal handler exits the process.
      await new Promise<never>(() => undefined);
    });
}
