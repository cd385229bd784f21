// Simulated guests for the demo and tests: per VM, the seed's driver model (VtconDriver) running
// @vtcon/console's SimulatedGuest (boot banner, a shell that echoes and answers `stty size`) over
// a real vhost-user connection (VhostUserFrontend through FrontendHandle) to the VM's socket.
// On RESIZE the guest prints its new size, as a shell would show after SIGWINCH.
import { loadStack } from './stack.js';

export async function startConsoleGuests(vms: { name: string; socket: string }[]): Promise<{ stop(): Promise<void> }> {
  const { guests: c, transport: t, native } = await loadStack();
  const drivers: InstanceType<typeof c.VtconDriver>[] = [];
  try {
    for (const vm of vms) {
      const handle = new c.FrontendHandle((onConfigChange) => t.VhostUserFrontend.connect(vm.socket, { onConfigChange }), native);
      const driver = new c.VtconDriver(handle);
      new c.SimulatedGuest(driver, { hostname: vm.name });
      driver.on('resize', (p) => {
        if (p.size) void p.write(`\r\n[${vm.name}: terminal is now ${p.size.cols}x${p.size.rows}]\r\n`).catch(() => undefined);
      });
      await driver.attach();
      drivers.push(driver);
    }
  } catch (err) {
    await Promise.allSettled(drivers.map((d) => d.detach()));
    throw err;
  }
  return {
    stop: async () => {
      await Promise.allSettled(drivers.map((d) => d.detach()));
    },
  };
}
