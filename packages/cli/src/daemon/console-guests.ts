// The demo's guests: per VM, the seed's driver model (VtconDriver) running SimulatedGuest over a
// real vhost-user connection (VhostUserFrontend through FrontendHandle) to the VM's socket.
import type { Config } from '../config/schema.js';
import { loadStack } from './stack.js';

export async function startConsoleGuests(config: Config): Promise<{ stop(): Promise<void> }> {
  const stack = await loadStack();
  const c = stack.console;
  const t = stack.transport;
  const drivers: { detach(): Promise<void> }[] = [];
  for (const vm of config.vms) {
    const handle = new c.FrontendHandle((onConfigChange) => t.VhostUserFrontend.connect(vm.socket, { onConfigChange }), stack.ops);
    const driver = new c.VtconDriver(handle);
    new c.SimulatedGuest(driver, { hostname: vm.name });
    await driver.attach();
    drivers.push(driver);
  }
  return {
    stop: async () => {
      await Promise.allSettled(drivers.map((d) => d.detach()));
    },
  };
}
