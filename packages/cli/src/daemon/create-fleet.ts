// Chooses the Fleet implementation: the vhost-user device stack when @vtcon/console provides it,
// else (or with --simulate) the in-process simulated guests.
import type { Logger } from 'pino';
import { defaultLogDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { runtimeDirOf } from './daemon.js';
import type { Fleet } from './fleet.js';
import { SimFleet } from './sim-fleet.js';
import { ConsoleFleet } from './console-fleet.js';
import { loadStack } from './stack.js';

export async function createFleet(config: Config, logger: Logger, opts: { simulate: boolean }): Promise<Fleet> {
  const runtimeDir = runtimeDirOf(config);
  if (!opts.simulate) {
    try {
      const stack = await loadStack();
      return new ConsoleFleet(stack, runtimeDir, defaultLogDir(), logger, config);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'vhost-user device stack unavailable; serving simulated guests');
    }
  }
  return new SimFleet(runtimeDir, defaultLogDir(), logger);
}
