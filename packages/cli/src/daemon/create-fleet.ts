// Chooses the Fleet implementation: the vhost-user device stack when @vtcon/console provides it,
// else (or with --simulate) the in-process simulated guests.
import type { Logger } from 'pino';
import { defaultLogDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { runtimeDirOf } from './daemon.js';
import type { Fleet } from './fleet.js';
import { SimFleet } from './sim-fleet.js';

export async function createFleet(config: Config, logger: Logger, opts: { simulate: boolean }): Promise<Fleet> {
  const runtimeDir = runtimeDirOf(config);
  if (!opts.simulate) {
    try {
      const mod = (await import('./console-fleet.js')) as { ConsoleFleet?: new (runtimeDir: string, logDir: string, config: Config, logger: Logger) => Fleet };
      if (mod.ConsoleFleet) return new mod.ConsoleFleet(runtimeDir, defaultLogDir(), config, logger);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'vhost-user device stack unavailable; serving simulated guests');
    }
  }
  return new SimFleet(runtimeDir, defaultLogDir(), logger);
}
