// `vtcon serve` started by a holder (VTCON_HOLDER_FD set): the engine. It loads everything first
// and says hello, then waits — a standby until the holder activates it, an upgrade candidate until
// the holder asks whether it can adopt the kept state — and only then starts the daemon, whose
// VMs the holder serves it (taking over connections an earlier engine had). Retire (an upgrade)
// and a lost holder end the process at once: the holder keeps, or has lost, every connection.
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { Daemon, makeLogger } from './daemon.js';
import type { Fleet } from './fleet.js';
import { createFleet } from './create-fleet.js';
import { loadStack } from './stack.js';

export async function runEngine(config: Config, configPath: string): Promise<never> {
  const { transport, console: c } = await loadStack();
  if (config.web) await import('../web/launch.js'); // loaded before the hello: a hand-over should not wait for it
  let daemon: Daemon | null = null;
  const exit = (code: number) => {
    if (!daemon) process.exit(code);
    daemon.logger.flush(() => process.exit(code));
    setTimeout(() => process.exit(code), 500).unref();
  };
  // A standby has no daemon yet: a SIGHUP meant for the active engine must not end it.
  process.on('SIGHUP', () => undefined);
  // The fleet (its worker threads) is made now, before the hello: a take-over then only binds
  // sockets and replays. It listens on nothing until the daemon adds the VMs.
  let early: Promise<Fleet> | null = null;
  const logger = makeLogger(config);
  const link = transport.EngineLink.fromEnv(c.GUEST_STATE_VERSION, {
    onActivate: () => {
      void (async () => {
        daemon = new Daemon({
          config, configPath, handleSignals: true, logger,
          createFleet: (cfg, logger) => early ?? createFleet(cfg, logger, link),
        });
        await daemon.start();
        link!.ready();
        for (const v of daemon.skipped) process.stderr.write(`vtcon: VM ${v.vm} not served (${v.reason}): ${v.message}\n`);
        process.stderr.write(`vtcon: serving ${config.vms.length - daemon.skipped.length} VM(s); control socket ${daemon.controlPath} (engine ${process.pid})\n`);
        if (config.web) {
          const web = await (await import('../web/launch.js')).launchWeb(config.web, daemon.controlPath);
          process.stderr.write(`vtcon: web console ${web.server.url}\n`);
        }
      })().catch((err: unknown) => {
        process.stderr.write(`vtcon: engine could not start: ${(err as Error).message}\n`);
        exit(1);
      });
    },
    onRetire: () => {
      daemon?.logger.info({}, 'retiring: a new engine takes over the connections');
      exit(0);
    },
    onCheck: (versions) => {
      // Test hook: an engine that refuses every state (the fallback path of an upgrade).
      const refuse = process.env.VTCON_TEST_REFUSE_STATE_FILE;
      if (refuse && existsSync(refuse)) return { ok: false, reason: readFileSync(refuse, 'utf8').trim() || 'refused (test hook)' };
      const unknown = versions.filter((v) => v > c.GUEST_STATE_VERSION);
      return unknown.length === 0 ? { ok: true } : { ok: false, reason: `state version ${unknown.join(',')} is newer than this engine's ${c.GUEST_STATE_VERSION}` };
    },
    onClose: () => exit(daemon ? 1 : 0),
  });
  if (!link) throw new Error('runEngine without VTCON_HOLDER_FD');
  early = createFleet(config, logger, link);
  early.catch(() => undefined); // reported when the daemon awaits it
  return new Promise<never>(() => undefined);
}
