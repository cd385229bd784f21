/**
 * The guest driver's side of the device as the device knows it (driver ready; per port: ready,
 * open, announced), and what happens to it when the control queues stop, start or are reset.
 * Main thread.
 *
 * Guest reset on a live connection: when a Linux guest unbinds virtio_console or reboots, QEMU
 * 11.1.3 (vhost-user-test-device-pci) sends SET_VRING_ENABLE 0 and GET_VRING_BASE for every queue
 * on the same connection and nothing else: no SET_STATUS 0, no RESET_DEVICE, and no PORT_OPEN 0
 * (the driver resets the device before unplugging its ports). Pausing the VM (stop/cont, snapshot,
 * migration) sends the very same sequence, yet there the driver lives on and will never send
 * DEVICE_READY or PORT_OPEN again. So "every queue stopped" is not "reset" in general, and the
 * transport cannot tell the two apart; only this device knows that its handshake state lives
 * outside the rings. Hence: when both control queues are stopped the driver cannot talk to us, so
 * guest-side state is suspended (reported closed, host→guest bytes wait in the backlog); when a
 * control queue starts again, a ring resuming where it stopped (last avail / used idx not 0) brings
 * the suspended state back, while fresh rings (both control queues at 0/0, what a re-initialised
 * driver sets up) or a DEVICE_READY mean a new driver: the suspended state and pending control
 * output are dropped. An explicit reset (RESET_DEVICE, SET_STATUS 0 → reset()) or a disconnect
 * resets at once.
 */
import {
  VIRTIO_CONSOLE_DEVICE_ADD, VIRTIO_CONSOLE_DEVICE_REMOVE, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_RESIZE,
} from '../control/constants.js';
import { type ConsoleSize, encodeResize, type ResizeOrder } from '../control/resize.js';
import type { ConsolePort } from '../port/port.js';
import type { ControlQueues } from './control-queue.js';
import type { EmitDeviceEvent } from './events.js';
import type { Logger } from './logger.js';
import type { PortTable } from './port-table.js';

/** Guest-side state put aside while both control queues are stopped (see the module header). */
interface GuestSnapshot {
  driverReady: boolean;
  ports: Map<number, { guestReady: boolean; guestOpen: boolean; announced: boolean; hostOpen: boolean; size: ConsoleSize | null }>;
}

/**
 * The guest side as JSON, for a holder to give the next engine (engine take-over). Versioned:
 * an engine adopts only versions it knows (GUEST_STATE_VERSION and earlier it can read).
 */
export const GUEST_STATE_VERSION = 1;
export interface GuestStateWire {
  v: number;
  driverReady: boolean;
  /** [id, guestReady, guestOpen, announced, hostOpen, cols, rows] (cols/rows -1: no size). */
  ports: [number, boolean, boolean, boolean, boolean, number, number][];
}

export interface GuestStateDeps {
  ports: Pick<PortTable, 'get' | 'values'>;
  control: Pick<ControlQueues, 'send' | 'clear'>;
  resizeOrder: ResizeOrder;
  log: Logger;
  /** Raises 'port-open'. */
  emit: EmitDeviceEvent;
  /** Hand the port's waiting host→guest bytes to its receiveq. */
  pump(p: ConsolePort): void;
}

export class GuestState {
  /** The driver sent DEVICE_READY(1). */
  driverReady = false;
  private suspended: GuestSnapshot | null = null;

  constructor(private readonly deps: GuestStateDeps) {}

  /** DEVICE_ADD for a port the driver is to learn about. */
  announce(p: ConsolePort): void {
    p.announced = true;
    this.deps.control.send(p.id, VIRTIO_CONSOLE_DEVICE_ADD, 1);
  }

  /**
   * A control queue started (the other one may run already). Decided before it is serviced: a
   * DEVICE_READY waiting in a fresh transmitq must meet reset state.
   */
  controlStarted(q: { lastAvailIdx: number; usedIdx: number }, bothRunning: boolean): void {
    if (!this.suspended) return;
    if (q.lastAvailIdx !== 0 || q.usedIdx !== 0) this.resume();
    else if (bothRunning) this.dropSuspended('both control queues restarted from index 0');
  }

  /** Both control queues stopped: the driver may be gone (reset) or only paused; see the header. */
  suspend(): void {
    if (this.suspended) return;
    const snap: GuestSnapshot = { driverReady: this.driverReady, ports: new Map() };
    for (const p of this.deps.ports.values()) {
      snap.ports.set(p.id, { guestReady: p.guestReady, guestOpen: p.guestOpen, announced: p.announced, hostOpen: p.hostOpen, size: p.size ? { ...p.size } : null });
    }
    this.suspended = snap;
    this.driverReady = false;
    for (const p of this.deps.ports.values()) {
      const wasOpen = p.guestOpen;
      p.resetGuestState();
      if (wasOpen) this.deps.emit('port-open', p.stats(), false);
    }
    this.deps.log.info({ driverReady: snap.driverReady }, 'control queues stopped: guest-side state suspended until the driver resumes or starts afresh');
  }

  /** The guest side now (what suspend() would keep), as JSON. */
  toWire(): GuestStateWire {
    const ports: GuestStateWire['ports'] = [];
    // Suspended (control queues stopped: a paused VM, or a driver that reset): what resume() would bring back.
    const snap = this.suspended;
    if (snap) {
      for (const [id, p] of snap.ports) ports.push([id, p.guestReady, p.guestOpen, p.announced, p.hostOpen, p.size?.cols ?? -1, p.size?.rows ?? -1]);
      return { v: GUEST_STATE_VERSION, driverReady: snap.driverReady, ports };
    }
    for (const p of this.deps.ports.values()) ports.push([p.id, p.guestReady, p.guestOpen, p.announced, p.hostOpen, p.size?.cols ?? -1, p.size?.rows ?? -1]);
    return { v: GUEST_STATE_VERSION, driverReady: this.driverReady, ports };
  }

  /**
   * Take over the guest side an earlier engine saved: kept as suspended, so it comes back when
   * the control queues start where that engine left them (resume()), exactly as after a VM
   * pause; fresh control rings (a driver that started over) drop it. Throws on a state this
   * engine cannot read.
   */
  adopt(wire: unknown): void {
    const w = wire as Partial<GuestStateWire> | null;
    if (!w || typeof w !== 'object' || w.v !== GUEST_STATE_VERSION || typeof w.driverReady !== 'boolean' || !Array.isArray(w.ports)) {
      throw new Error(`guest state of version ${String((w as { v?: unknown } | null)?.v)} (this engine reads ${GUEST_STATE_VERSION})`);
    }
    const ports: GuestSnapshot['ports'] = new Map();
    for (const e of w.ports) {
      if (!Array.isArray(e) || e.length !== 7 || typeof e[0] !== 'number') continue;
      const [id, guestReady, guestOpen, announced, hostOpen, cols, rows] = e;
      ports.set(id, { guestReady: guestReady === true, guestOpen: guestOpen === true, announced: announced === true, hostOpen: hostOpen === true, size: cols >= 0 && rows >= 0 ? { cols, rows } : null });
    }
    this.suspended = { driverReady: w.driverReady, ports };
  }

  /** A new driver instance: what the old one was told or had pending is void. */
  dropSuspended(why: string): void {
    if (!this.suspended) return;
    this.suspended = null;
    this.deps.control.clear();
    for (const p of this.deps.ports.values()) p.error = null;
    this.deps.log.info({ why }, 'guest driver restarted: suspended guest-side state dropped');
  }

  /** RESET_DEVICE, SET_STATUS 0 or a disconnect: no driver, nothing suspended or pending. */
  reset(): void {
    this.suspended = null;
    this.driverReady = false;
    this.deps.control.clear();
    for (const p of this.deps.ports.values()) { p.resetGuestState(); p.error = null; }
  }

  /** A control ring resumed where it stopped: the same driver is back (VM resumed, memory re-mapped). */
  private resume(): void {
    const snap = this.suspended;
    if (!snap) return;
    this.suspended = null;
    this.driverReady = snap.driverReady;
    const { ports, control } = this.deps;
    const opened: ConsolePort[] = [];
    for (const [id, s] of snap.ports) {
      const p = ports.get(id);
      if (!p) {
        // Removed while suspended: tell the driver it still knows about it.
        if (s.announced && snap.driverReady) control.send(id, VIRTIO_CONSOLE_DEVICE_REMOVE, 0);
        continue;
      }
      p.guestReady = s.guestReady; p.guestOpen = s.guestOpen; p.announced = s.announced;
      if (p.guestOpen) opened.push(p);
      // Host-side changes made while suspended could not be sent then.
      if (p.guestReady && p.hostOpen !== s.hostOpen) control.send(p.id, VIRTIO_CONSOLE_PORT_OPEN, p.hostOpen ? 1 : 0);
      if (p.guestReady && p.console && p.size && (s.size?.cols !== p.size.cols || s.size?.rows !== p.size.rows)) {
        control.send(p.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(p.size, this.deps.resizeOrder));
      }
    }
    if (this.driverReady) for (const p of ports.values()) if (!p.announced) this.announce(p);
    this.deps.log.info({ driverReady: this.driverReady }, 'control queues resumed: guest-side state restored');
    for (const p of opened) { this.deps.emit('port-open', p.stats(), true); this.deps.pump(p); }
  }
}
