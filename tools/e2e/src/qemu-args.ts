// The QEMU command line and kernel command line for one e2e guest. Pure: no I/O, so the exact
// argv is unit-tested; qemu.ts spawns it.
import type { E2ePaths } from './paths.js';

export interface GuestConfig {
  /** vhost-user socket the backend (vtcon) listens on; omitted: boot without the console device */
  socketPath?: string;
  /** the device's max_nr_ports (multiport): the device gets 2 * (numPorts + 1) virtqueues */
  numPorts?: number;
  /** chardev reconnect-ms: QEMU reconnects to a restarted backend instead of giving up */
  reconnectMs?: number;
  /** guest scenarios (tools/e2e/guest/scenarios/NAME.sh), run in order */
  scenario: string | readonly string[];
  /** scenario parameters: vtcon.KEY=VALUE on the kernel command line, VTCON_KEY in the guest */
  args?: Readonly<Record<string, string | number>>;
  /** keep the guest running after the last scenario (default: it powers off) */
  stay?: boolean;
  /** serial log file QEMU writes (all guest console output) */
  serialLog: string;
  memoryMb?: number;
  /** full kernel log on the console instead of warnings only (lines may then interleave) */
  kernelLog?: boolean;
  /** virtqueue size (vq_size); QEMU's default is 64 */
  queueSize?: number;
  /** more QEMU arguments, before -kernel (e.g. QEMU's own virtio-serial as a reference device) */
  extraArgs?: readonly string[];
}

/** virtio-console config space: cols, rows (le16 each), max_nr_ports (le32), emerg_wr (le32). */
export const CONSOLE_CONFIG_SIZE = 12;
const VIRTIO_ID_CONSOLE = 3;

/** Virtqueues of a multiport console: receiveq/transmitq for port 0, the control pair, then a pair per further port. */
export function consoleQueueCount(numPorts: number): number {
  if (!Number.isInteger(numPorts) || numPorts < 1) throw new RangeError(`numPorts must be an integer >= 1, got ${numPorts}`);
  return 2 * (numPorts + 1);
}

// The kernel splits its command line on spaces and would take quotes as syntax: keep values plain.
const KEY = /^[a-z0-9][a-z0-9_-]*$/;
const VALUE = /^[^\s"'\\]+$/;
const SCENARIO = /^[a-z0-9][a-z0-9-]*$/;

export function kernelCommandLine(cfg: Pick<GuestConfig, 'scenario' | 'args' | 'stay' | 'kernelLog'>): string {
  const scenarios = typeof cfg.scenario === 'string' ? [cfg.scenario] : [...cfg.scenario];
  if (scenarios.length === 0) throw new RangeError('at least one scenario');
  for (const s of scenarios) if (!SCENARIO.test(s)) throw new RangeError(`bad scenario name ${JSON.stringify(s)}`);
  // panic=-1: a guest panic reboots at once, and -no-reboot turns that into QEMU exiting.
  const parts = ['console=ttyS0', cfg.kernelLog ? 'loglevel=7' : 'loglevel=4', 'panic=-1', `vtcon.test=${scenarios.join(',')}`];
  if (cfg.stay) parts.push('vtcon.stay=1');
  for (const [key, raw] of Object.entries(cfg.args ?? {})) {
    const value = String(raw);
    if (!KEY.test(key) || key === 'test' || key === 'stay') throw new RangeError(`bad guest parameter name ${JSON.stringify(key)}`);
    if (!VALUE.test(value)) throw new RangeError(`guest parameter ${key}: value must be non-empty without spaces or quotes, got ${JSON.stringify(value)}`);
    parts.push(`vtcon.${key}=${value}`);
  }
  return parts.join(' ');
}

/** Arguments after the QEMU binary (the caller puts loader + binary in front). */
export function qemuArgs(paths: Pick<E2ePaths, 'firmwareDirs' | 'kernel' | 'initrd'>, cfg: GuestConfig): string[] {
  const mem = cfg.memoryMb ?? 256;
  const args: string[] = [];
  for (const dir of paths.firmwareDirs) args.push('-L', dir);
  args.push(
    '-nodefaults', '-no-user-config',
    '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', `${mem}M`,
    // vhost-user maps guest RAM into the backend: it must be a shared memfd.
    '-object', `memory-backend-memfd,id=mem,size=${mem}M,share=on`,
    '-machine', 'q35,memory-backend=mem',
    '-display', 'none', '-monitor', 'none', '-no-reboot',
    // Serial console on QEMU's stdio (the host can also type into it: the shell scenario) and
    // copied by QEMU itself into the log file, which outlives a crashed test process.
    '-chardev', `stdio,id=ser0,signal=off,logfile=${cfg.serialLog},logappend=off`,
    '-serial', 'chardev:ser0',
  );
  if (cfg.socketPath !== undefined) {
    if (/,/.test(cfg.socketPath)) throw new RangeError('socketPath must not contain "," (QEMU option syntax)');
    const numPorts = cfg.numPorts ?? 1;
    const reconnect = cfg.reconnectMs !== undefined ? `,reconnect-ms=${cfg.reconnectMs}` : '';
    args.push(
      '-chardev', `socket,id=vu,path=${cfg.socketPath}${reconnect}`,
      '-device',
      `vhost-user-test-device-pci,chardev=vu,virtio-id=${VIRTIO_ID_CONSOLE},num_vqs=${consoleQueueCount(numPorts)},` +
        `config_size=${CONSOLE_CONFIG_SIZE}${cfg.queueSize !== undefined ? `,vq_size=${cfg.queueSize}` : ''}`,
    );
  }
  if (cfg.extraArgs) args.push(...cfg.extraArgs);
  args.push('-kernel', paths.kernel, '-initrd', paths.initrd, '-append', kernelCommandLine(cfg));
  return args;
}
