// The e2e harness: provisioned paths, QEMU command line, booting guests, their serial console.
export { e2ePaths, defaultCacheDir, type E2ePaths } from './paths.js';
export { qemuArgs, kernelCommandLine, consoleQueueCount, CONSOLE_CONFIG_SIZE, type GuestConfig } from './qemu-args.js';
export { SerialConsole, type LineMatch, type WaitOptions } from './serial.js';
export { bootGuest, Guest, type BootOptions, type GuestExit, type ExecResult } from './qemu.js';
export { guestsPerTest, daemonsPerTest } from './failure-log.js';
export { VtconDaemon, cliPath, daemonConfig, parseProcStatCpu, findPort, type DaemonOptions, type VmSpec, type PortSpec, type VmInfo, type PortInfo, type CliResult } from './daemon.js';
