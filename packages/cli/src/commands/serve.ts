import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { Daemon } from '../daemon/daemon.js';
import { createFleet } from '../daemon/create-fleet.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: listen on every VM\'s vhost-user socket and serve the control API')
    .requiredOption('-c, --config <FILE>', 'fleet config (YAML or JSON)')
    .option('--log-level <LEVEL>', 'override daemon.logLevel (fatal|error|warn|info|debug|trace|silent)')
    .option('--simulate', 'serve simulated guests instead of vhost-user sockets (no QEMU needed)')
    .addHelpText('after', `
Signals: SIGTERM/SIGINT drain the consoles, flush every log file and exit 0;
         SIGHUP re-reads the config and adds/removes VMs and ports without touching the others.

Examples:
  vtcon serve --config /etc/vtcon/fleet.yaml
  vtcon serve -c fleet.yaml --log-level debug 2>daemon.log
  kill -HUP "$(pgrep -f 'vtcon serve')"   # reload after editing fleet.yaml

QEMU side, per VM (the socket is the VM's "socket:" in the config):
  -chardev socket,id=con0,path=/run/vtcon/web1.sock,reconnect-ms=1000
  -device vhost-user-device-pci,chardev=con0,virtio-id=3,num_vqs=6,config_size=12`)
    .action(async (opts: { config: string; logLevel?: string; simulate?: boolean }) => {
      const config = loadConfigFile(opts.config);
      if (opts.logLevel) config.daemon.logLevel = opts.logLevel as typeof config.daemon.logLevel;
      const daemon = new Daemon({ config, configPath: opts.config, createFleet: (cfg, log) => createFleet(cfg, log, { simulate: Boolean(opts.simulate) }), handleSignals: true });
      await daemon.start();
      process.stderr.write(`vtcon: serving ${config.vms.length} VM(s); control socket ${daemon.controlPath}\n`);
      // Stay alive until a signal handler exits the process.
      await new Promise<never>(() => undefined);
    });
}
