// Library surface of @vtcon/cli for embedding and tests: config loading, the control client,
// and the daemon with its Fleet seam.
export * from './config/index.js';
export { ControlClient } from './control/client.js';
export { API_VERSION, type Request, type Reply, type ErrorCode } from './control/protocol.js';
export { Daemon, type DaemonOptions } from './daemon/daemon.js';
export type { Fleet, VmInfo, PortInfo, AttachedClient, FleetStats } from './daemon/fleet.js';
export { CliError, ExitCode, type CliReason, type ConfigProblem } from './errors.js';
