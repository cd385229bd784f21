// The config schema (zod). One source of truth for validation, defaults and the TypeScript types
// the daemon consumes. Names are the operator-facing ones documented in the README.
import { z } from 'zod';
import { webSchema } from '../web/web-config.js';
import { isValidName, NAME_RULE } from './names.js';
import { fleetSchema } from '../fleet/config.js';
import { MAX_PORTS } from './limits.js';

/** A VM or port name: it becomes a path component (attach socket, log file); see names.ts. */
const name = z.string().refine(isValidName, `must be ${NAME_RULE}`);

export const portSchema = z.strictObject({
  name,
  /** A console port is shown as hvc in the guest (VIRTIO_CONSOLE_CONSOLE_PORT). */
  console: z.boolean().default(false),
});

/**
 * What `vtcon break` sends. linux-sysrq: hvc's ^O prefix followed by the sysrq key
 * (drivers/tty/hvc/hvc_console.c); freebsd-altbreak: CR ~ ^B (kern.enable_altbreak in
 * sys/kern/kern_cons.c). Custom: explicit bytes.
 */
export const breakSchema = z.union([
  z.literal('linux-sysrq'),
  z.literal('freebsd-altbreak'),
  z.strictObject({ bytes: z.array(z.number().int().min(0).max(255)).min(1).max(64) }),
]);

export const sinksSchema = z.strictObject({
  scrollbackBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
  /** Defaults to the daemon's log dir (state dir) when absent. */
  logDir: z.string().min(1).optional(),
  rotateBytes: z.number().int().min(4096).default(16 * 1024 * 1024),
  keepFiles: z.number().int().min(0).max(1000).default(5),
  timestamps: z.boolean().default(false),
});

/**
 * The most ports of a VM. vhost-user names at most 256 queues (SET_VRING_KICK's vring index is 8
 * bits; QEMU masks it, so a 257th queue's fds would land on queue 0's), and a console device has
 * 2 + 2 x ports queues: 127 (@vtcon/console VHOST_USER_MAX_NR_PORTS). QEMU's own in-process
 * virtio-serial goes to 511, which a vhost-user device cannot reach.
 */
export { MAX_PORTS };
const MAX_PORTS_WHY = `at most ${MAX_PORTS}: vhost-user names at most 256 queues (SET_VRING_KICK's index is 8 bits) and a console device has 2 + 2 x ports`;

export const vmSchema = z.strictObject({
  name,
  /** The vhost-user socket QEMU connects to (-chardev socket,path=...). */
  socket: z.string().min(1),
  ports: z.array(portSchema).min(1).max(MAX_PORTS, `${MAX_PORTS_WHY} (use fewer ports)`),
  /** max_nr_ports offered in config space; room for hot-added ports. */
  maxPorts: z.number().int().min(1).max(MAX_PORTS, `maxPorts is ${MAX_PORTS_WHY}`).optional(),
  /**
   * RESIZE payload order: the spec says cols,rows; Linux 2.6.35..6.14 read rows,cols
   * (fixed in 6.15, backported to 6.12.x).
   */
  resizeOrder: z.enum(['cols-rows', 'rows-cols']).optional(),
  break: breakSchema.default('linux-sysrq'),
  sinks: sinksSchema.prefault({}),
});

export const daemonSchema = z.strictObject({
  /** Control API socket (mode 0600). */
  control: z.string().min(1).optional(),
  /** Attach sockets live at <runtimeDir>/<vm>/<port>.sock. */
  runtimeDir: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Daemon's own structured log; stderr when absent. */
  logFile: z.string().min(1).optional(),
  /** logFile is rotated to <logFile>.1 once it would pass this size... */
  logRotateBytes: z.number().int().min(4096).default(16 * 1024 * 1024),
  /** ...and this many rotated files are kept. */
  logKeepFiles: z.number().int().min(0).max(100).default(3),
  /** Piscina workers servicing virtqueues. */
  workers: z.number().int().min(1).max(64).default(2),
  /**
   * `serve` keeps QEMU's connections in a small holder process, so the engine (everything else)
   * can crash, be killed or be upgraded under running VMs (README "Durability"). false: one process.
   */
  holder: z.boolean().default(true),
  /** With the holder: keep a second engine started and idle, so a crash is a hand-over, not a start. */
  standbyEngine: z.boolean().default(true),
  /** With the holder: engines dying within 5 s of taking over, in a row, before it stops restarting them. */
  maxEngineCrashes: z.number().int().min(1).max(1000).default(10),
});

export const configSchema = z
  .strictObject({
    daemon: daemonSchema.prefault({}),
    vms: z.array(vmSchema).default([]),
    /** The web console `vtcon serve` hosts (src/web); absent: none. */
    web: webSchema.optional(),
    /** Optional: join a fleet over NATS (see fleet/config.ts). Absent: single host, no NATS. */
    fleet: fleetSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    const seenVm = new Map<string, number>();
    const seenSock = new Map<string, number>();
    cfg.vms.forEach((vm, i) => {
      if (seenVm.has(vm.name)) {
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'name'], message: `duplicate VM name "${vm.name}" (also vms[${seenVm.get(vm.name)}])` });
      } else seenVm.set(vm.name, i);
      if (seenSock.has(vm.socket)) {
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'socket'], message: `socket already used by vms[${seenSock.get(vm.socket)}]` });
      } else seenSock.set(vm.socket, i);
      const seenPort = new Set<string>();
      vm.ports.forEach((p, j) => {
        if (seenPort.has(p.name)) ctx.addIssue({ code: 'custom', path: ['vms', i, 'ports', j, 'name'], message: `duplicate port name "${p.name}"` });
        seenPort.add(p.name);
      });
      if (vm.maxPorts !== undefined && vm.maxPorts < vm.ports.length) {
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'maxPorts'], message: `maxPorts ${vm.maxPorts} is less than the ${vm.ports.length} ports listed` });
      }
    });
  });

export type Config = z.infer<typeof configSchema>;
export type VmConfig = z.infer<typeof vmSchema>;
export type PortConfig = z.infer<typeof portSchema>;
export type SinksConfig = z.infer<typeof sinksSchema>;
export type BreakConfig = z.infer<typeof breakSchema>;
export type DaemonConfig = z.infer<typeof daemonSchema>;

/** The bytes `vtcon break` sends for a VM's setting. */
export function breakBytes(b: BreakConfig, sysrqKey = 'h'): Uint8Array {
  if (b === 'linux-sysrq') return Uint8Array.of(0x0f, sysrqKey.charCodeAt(0) & 0x7f);
  if (b === 'freebsd-altbreak') return Uint8Array.of(0x0d, 0x7e, 0x02);
  return Uint8Array.from(b.bytes);
}
