/**
 * Driver→device control messages and the device's answers (virtio 1.2 §5.3.6.2, matching what
 * QEMU sends a Linux 6.12 guest, see transport/src/protocol/fixtures/qemu-11.1.3):
 *   guest DEVICE_READY(1)        → DEVICE_ADD(id) for every configured port
 *   guest PORT_READY(id, 1)      → CONSOLE_PORT(id,1) [+ RESIZE] for console ports,
 *                                  PORT_NAME(id) without NUL, PORT_OPEN(id,1) if host side open
 *   guest PORT_OPEN(id, v)       → guestOpen tracking ('port-open' event)
 *   host addPort/removePort      → DEVICE_ADD / DEVICE_REMOVE at run time
 *   host resize                  → RESIZE (multiport, console port) or config cols/rows +
 *                                  BACKEND_CONFIG_CHANGE_MSG (single port)
 * The guest lines are handled here, the host lines by ConsoleDevice's host API. Bad guest input is
 * refused: counted, reported ('control-rejected') and logged within the guest's log budget;
 * nothing else changes.
 */
import type { ConsoleErrorReason } from '../errors.js';
import {
  CONTROL_EVENT_NAMES, isKnownControlEvent, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_PORT_NAME, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_READY, VIRTIO_CONSOLE_RESIZE,
} from '../control/constants.js';
import { decodeControl } from '../control/message.js';
import { encodePortName } from '../control/port-name.js';
import { encodeResize, type ResizeOrder } from '../control/resize.js';
import type { ConsolePort } from '../port/port.js';
import type { ControlQueues } from './control-queue.js';
import type { EmitDeviceEvent, GuestWarn } from './events.js';
import type { GuestState } from './guest-state.js';
import type { PortTable } from './port-table.js';

export interface ControlHandlerDeps {
  ports: Pick<PortTable, 'get' | 'sorted'>;
  guest: Pick<GuestState, 'driverReady' | 'dropSuspended' | 'announce'>;
  control: Pick<ControlQueues, 'send'>;
  maxPorts: number;
  resizeOrder: ResizeOrder;
  /** Raises 'driver-ready', 'port-ready', 'port-open' and 'control-rejected'. */
  emit: EmitDeviceEvent;
  guestWarn: GuestWarn;
  /** The guest opened the port: hand it the host→guest bytes waiting for it. */
  pump(p: ConsolePort): void;
}

export class ControlHandler {
  private refused = 0;

  constructor(private readonly deps: ControlHandlerDeps) {}

  /** Control messages from the guest refused since the device was created. */
  get rejected(): number { return this.refused; }

  /** One driver→device control message (§5.3.6.2 device requirements). */
  handle(bytes: Uint8Array): void {
    const { ports, guest, control, emit } = this.deps;
    let m;
    try { m = decodeControl(bytes); } catch (e) {
      this.reject('CONTROL_TOO_SHORT', 'short control message from guest ignored', { len: bytes.length, err: String(e) });
      return;
    }
    const ctx = { id: m.id, event: CONTROL_EVENT_NAMES[m.event] ?? m.event, value: m.value };
    if (!isKnownControlEvent(m.event)) return this.reject('UNKNOWN_EVENT', 'unknown control event from guest ignored', ctx);
    if (m.event === VIRTIO_CONSOLE_DEVICE_READY) {
      if (m.value !== 1) return this.reject('DRIVER_INIT_FAILED', 'guest driver reports it failed to initialise', ctx);
      // Only a driver that (re)initialised sends DEVICE_READY: whatever was suspended is void.
      guest.dropSuspended('DEVICE_READY');
      if (guest.driverReady) this.deps.guestWarn(ctx, 'second DEVICE_READY; announcing ports again');
      guest.driverReady = true;
      emit('driver-ready');
      for (const p of ports.sorted()) guest.announce(p);
      return;
    }
    if (m.event !== VIRTIO_CONSOLE_PORT_READY && m.event !== VIRTIO_CONSOLE_PORT_OPEN) {
      return this.reject('UNKNOWN_EVENT', 'device→driver event sent by the guest ignored', ctx);
    }
    if (m.id >= this.deps.maxPorts) return this.reject('PORT_ID_OUT_OF_RANGE', 'control event for port id out of range ignored', ctx);
    const p = ports.get(m.id);
    if (!p) return this.reject('NO_SUCH_PORT', 'control event for a port that does not exist ignored', ctx);
    if (m.event === VIRTIO_CONSOLE_PORT_READY) {
      if (m.value !== 1) {
        p.guestReady = false;
        this.deps.guestWarn(ctx, 'guest could not create port');
        emit('port-ready', p.stats(), false);
        return;
      }
      p.guestReady = true;
      if (p.console) {
        control.send(p.id, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        // Linux ignores config-space size with MULTIPORT; tell it on ready and on every change.
        if (p.size) control.send(p.id, VIRTIO_CONSOLE_RESIZE, 0, encodeResize(p.size, this.deps.resizeOrder));
      }
      if (p.name !== null) control.send(p.id, VIRTIO_CONSOLE_PORT_NAME, 1, encodePortName(p.name));
      if (p.hostOpen) control.send(p.id, VIRTIO_CONSOLE_PORT_OPEN, 1);
      emit('port-ready', p.stats(), true);
      return;
    }
    // PORT_OPEN
    const open = m.value !== 0;
    const changed = open !== p.guestOpen;
    p.guestOpen = open;
    if (changed) emit('port-open', p.stats(), open);
    if (open) this.deps.pump(p);
  }

  /** Bad guest input: counted, reported ('control-rejected'), logged within the guest's log budget. */
  private reject(reason: ConsoleErrorReason, msg: string, ctx: object): void {
    this.refused++;
    this.deps.emit('control-rejected', reason);
    this.deps.guestWarn({ reason, ...ctx }, msg);
  }
}
