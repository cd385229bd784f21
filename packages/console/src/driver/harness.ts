/**
 * Harness: a ConsoleDevice served by @vtcon/transport's VhostUserBackend on a real Unix socket,
 * and a guest (the seed driver model over VhostUserFrontend) connected to it. Used by tests,
 * examples, benchmarks and the CLI demo. Main thread.
 */
import { VhostUserBackend, VhostUserFrontend } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { ConsoleDevice, type ConsoleDeviceOptions } from '../device/console-device.js';
import { FrontendHandle, type FrontendHandleOptions } from './frontend-handle.js';
import { VtconDriver, type VtconDriverOptions } from './vtcon-driver.js';
import { SimulatedGuest, type SimulatedGuestOptions } from './simulated-guest.js';
import type { Logger } from '../device/logger.js';

/** Serve `device` on `socketPath` (one VM per socket). */
export function serveDevice(socketPath: string, device: ConsoleDevice, logger?: Logger): VhostUserBackend {
  const backend = new VhostUserBackend({ socketPath, createDevice: () => device, ...(logger ? { logger } : {}) });
  backend.listen();
  return backend;
}

export interface GuestOptions extends VtconDriverOptions {
  frontend?: FrontendHandleOptions;
  /** Run a SimulatedGuest (banner + echo shell) on the driver. */
  shell?: boolean | SimulatedGuestOptions;
}

/** Connect a seed-model guest to a backend socket and attach (ends in DEVICE_READY). */
export async function connectGuest(socketPath: string, opts: GuestOptions = {}): Promise<{ driver: VtconDriver; shell: SimulatedGuest | null }> {
  const handle = new FrontendHandle((onConfigChange) => VhostUserFrontend.connect(socketPath, { onConfigChange }), native, opts.frontend);
  const driver = new VtconDriver(handle, opts);
  const shell = opts.shell ? new SimulatedGuest(driver, typeof opts.shell === 'object' ? opts.shell : {}) : null;
  await driver.attach();
  return { driver, shell };
}

export type { ConsoleDeviceOptions };
