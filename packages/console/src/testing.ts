/**
 * @vtcon/console/testing — simulated guests and the harness around them, for tests, examples,
 * benchmarks, load generation and the CLI demo. Not for production data paths.
 *
 * The seed's driver model (VtconDriver, FreeBSD virtio_console.c function by function) over a real
 * vhost-user connection (FrontendHandle) or an in-process Loopback, SimulatedGuest (boot banner,
 * echoing shell), serveDevice/connectGuest (a device on a real socket and a guest attached to it),
 * and ScriptedDevice (a device that answers the driver as a test script says), with the control
 * queue's wire vocabulary (event numbers, codecs) its scripts are written in.
 */
export * from './control/index.js';
export {
  VtconDriver, VtconPort, type VtconDriverOptions, type VtconDriverEvents,
  VTCON_PORT_FLAG_GONE, VTCON_PORT_FLAG_CONSOLE, VTCON_PORT_FLAG_ALIAS, VTCON_FLAG_DETACHED, VTCON_FLAG_SIZE, VTCON_FLAG_MULTIPORT,
} from './driver/vtcon-driver.js';
export { SimulatedGuest, type SimulatedGuestOptions } from './driver/simulated-guest.js';
export { FrontendHandle, type FrontendLike, type FrontendHandleOptions } from './driver/frontend-handle.js';
export { Loopback, type LoopbackOptions, type LoopbackEventfds } from './driver/loopback.js';
export { ScriptedDevice } from './driver/scripted-device.js';
export type { VirtioHandle, DriverQueueBinding } from './driver/virtio-handle.js';
export { serveDevice, connectGuest, type GuestOptions } from './driver/harness.js';
