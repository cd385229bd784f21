/**
 * The control receiveq (the seed's vtcon_ctrl_* event functions): fill it with event buffers,
 * dequeue each control message the device sends, act on it (port add/remove/console/resize/
 * open/name) and requeue its buffer.
 */
import {
  CONTROL_HEADER_SIZE, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_READY, VIRTIO_CONSOLE_PORT_REMOVE, VIRTIO_CONSOLE_RESIZE, VTCON_CTRL_BUFSZ,
} from '../control/constants.js';
import { decodeControl } from '../control/message.js';
import { decodePortName } from '../control/port-name.js';
import { decodeResize } from '../control/resize.js';
import { portEnableIntr, portTeardown } from './port-io.js';
import { VTCON_FLAG_DETACHED, type VtconSoftc } from './softc.js';
import { VTCON_PORT_FLAG_ALIAS, VTCON_PORT_FLAG_CONSOLE } from './vtcon-port.js';

/** vtcon_ctrl_init → vtcon_ctrl_event_populate: fill control rx with 128-byte buffers. */
export function ctrlInit(sc: VtconSoftc): void {
  const vq = sc.ctrlRxvq!;
  let nbufs = 0;
  while (vq.queue.numFree > 0) {
    const addr = sc.handle.allocBuffer(VTCON_CTRL_BUFSZ);
    if (vq.queue.addBuffer(addr, VTCON_CTRL_BUFSZ, true, addr) === null) break;
    nbufs++;
  }
  if (nbufs > 0 && vq.queue.kickPrepare()) vq.kick();
}

/** vtcon_ctrl_task_cb: dequeue control events, process each, requeue its buffer. */
export function ctrlTaskCb(sc: VtconSoftc): void {
  const vq = sc.ctrlRxvq;
  if (!vq) return;
  if (sc.taskRunning) { sc.taskAgain = true; return; }
  sc.taskRunning = true;
  try {
    for (let round = 0; round < 1000; round++) {
      sc.taskAgain = false;
      let n = 0;
      while ((sc.flags & VTCON_FLAG_DETACHED) === 0) {
        const u = vq.queue.getUsed();
        if (u === null) break;
        const addr = u.token as number;
        const buf = sc.handle.memory.view(addr, VTCON_CTRL_BUFSZ);
        const len = Math.min(u.len, VTCON_CTRL_BUFSZ);
        const control = buf.slice(0, len);
        const data = len > CONTROL_HEADER_SIZE ? control.subarray(CONTROL_HEADER_SIZE) : null;
        sc.dev.ctrlProcessEvent(control, data);
        // vtcon_ctrl_event_requeue
        buf.fill(0);
        vq.queue.addBuffer(addr, VTCON_CTRL_BUFSZ, true, addr);
        n++;
      }
      if (sc.flags & VTCON_FLAG_DETACHED) return;
      if (n > 0 && vq.queue.kickPrepare()) vq.kick();
      if (!vq.queue.enableCallbacks() && !sc.taskAgain) return;
    }
  } finally {
    sc.taskRunning = false;
  }
}

/** vtcon_ctrl_process_event */
export function ctrlProcessEvent(sc: VtconSoftc, control: Uint8Array, data: Uint8Array | null): void {
  if (control.length < CONTROL_HEADER_SIZE) { sc.printf(`ctrl_process_event: short control (${control.length})`); return; }
  const m = decodeControl(control);
  const { id, event } = m;
  if (id >= sc.maxPorts) {
    sc.printf(`vtcon_ctrl_process_event: event ${event} invalid port ID ${id}`);
    return;
  }
  switch (event) {
    case VIRTIO_CONSOLE_PORT_ADD: sc.dev.ctrlPortAddEvent(id); break;
    case VIRTIO_CONSOLE_PORT_REMOVE: sc.dev.ctrlPortRemoveEvent(id); break;
    case VIRTIO_CONSOLE_CONSOLE_PORT: sc.dev.ctrlPortConsoleEvent(id); break;
    case VIRTIO_CONSOLE_RESIZE: sc.dev.ctrlPortResizeEvent(id, data); break;
    case VIRTIO_CONSOLE_PORT_OPEN: sc.dev.ctrlPortOpenEvent(id, m.value); break;
    case VIRTIO_CONSOLE_PORT_NAME: sc.dev.ctrlPortNameEvent(id, data); break;
    default: sc.log.debug({ id, event }, 'unknown control event ignored'); // the seed has no default: ignored
  }
}

/** vtcon_ctrl_port_add_event */
export function ctrlPortAddEvent(sc: VtconSoftc, id: number): void {
  if (sc.scports[id]!.port !== null) {
    sc.printf(`vtcon_ctrl_port_add_event: adding port ${id}, but already exists`);
    return;
  }
  if (!sc.dev.portCreate(id)) {
    sc.printf(`vtcon_ctrl_port_add_event: cannot create port ${id}`);
    void sc.dev.ctrlSendControl(id, VIRTIO_CONSOLE_PORT_READY, 0);
  }
}

/** vtcon_ctrl_port_remove_event */
export function ctrlPortRemoveEvent(sc: VtconSoftc, id: number): void {
  const scport = sc.scports[id]!;
  const port = scport.port;
  if (port === null) {
    sc.printf(`vtcon_ctrl_port_remove_event: remove port ${id}, but does not exist`);
    return;
  }
  scport.port = null;
  portTeardown(sc, port);
}

/** vtcon_ctrl_port_console_event: mark console, answer PORT_OPEN(1). */
export function ctrlPortConsoleEvent(sc: VtconSoftc, id: number): void {
  const port = sc.scports[id]!.port;
  if (port === null) {
    sc.printf(`vtcon_ctrl_port_console_event: console port ${id}, but does not exist`);
    return;
  }
  port.flags |= VTCON_PORT_FLAG_CONSOLE;
  port.ttyOpen = true;
  void sc.dev.portSubmitEvent(port, VIRTIO_CONSOLE_PORT_OPEN, 1);
  sc.dev.emit('console', port);
}

/** RESIZE: the seed ignores it (`case VIRTIO_CONSOLE_RESIZE: break;`); we record it on console ports. */
export function ctrlPortResizeEvent(sc: VtconSoftc, id: number, data: Uint8Array | null): void {
  const port = sc.scports[id]!.port;
  if (port === null || !port.console || data === null || data.length < 4) return;
  port.size = decodeResize(data, sc.opts.resizeOrder ?? 'cols-rows');
  sc.dev.emit('resize', port);
}

/** vtcon_ctrl_port_open_event: the seed only enables the port interrupt. */
export function ctrlPortOpenEvent(sc: VtconSoftc, id: number, value: number): void {
  const port = sc.scports[id]!.port;
  if (port === null) {
    sc.printf(`vtcon_ctrl_port_open_event: open port ${id}, but does not exist`);
    return;
  }
  port.hostOpen = value !== 0;
  portEnableIntr(sc, sc.scports[id]!);
  sc.dev.emit('open', port, port.hostOpen);
}

/** vtcon_ctrl_port_name_event + vtcon_port_dev_alias */
export function ctrlPortNameEvent(sc: VtconSoftc, id: number, data: Uint8Array | null): void {
  const name = decodePortName(data ?? new Uint8Array());
  if (!name.ok && name.why === 'EMPTY') return;
  const port = sc.scports[id]!.port;
  if (port === null) {
    sc.printf(`vtcon_ctrl_port_name_event: name port ${id}, but does not exist`);
    return;
  }
  if (port.flags & VTCON_PORT_FLAG_ALIAS) return;
  if (!name.ok) return; // "Port name is UTF-8, but we can only handle ASCII."
  port.name = name.name;
  port.flags |= VTCON_PORT_FLAG_ALIAS;
  sc.dev.emit('name', port);
}
