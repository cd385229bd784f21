// The daemon's Fleet: the vhost-user device stack, or nothing. loadStack throws a CliError (STACK_*/ADDON_*) that
// names the missing piece (package not built, native addon not compiled) and how to fix it;
// `serve` and `demo` exit 1 with it rather than serve something that is not a VM.
import type { Logger } from 'pino';
import { defaultLogDir } from '../config/paths.js';
import type { Config } from '../config/schema.js';
import { runtimeDirOf } from './daemon.js';
import type { Fleet } from './fleet.js';
import { ConsoleFleet } from './console-fleet.js';
import { loadStack } from './stack.js';
import type { EngineLink } from '@vtcon/transport';

/** `held`: the engine's link to the holder (`serve` under a holder), or none (one process). */
export async function createFleet(config: Config, logger: Logger, held: EngineLink | null = null): Promise<Fleet> {
  const stack = await loadStack();
  return new ConsoleFleet(stack, runtimeDirOf(config), defaultLogDir(), logger, config, held);
}
