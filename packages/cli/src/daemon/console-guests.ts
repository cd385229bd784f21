// Simulated guests for the demo and tests: per VM, the seed's driver model (VtconDriver) running
// SimulatedGuest over a real vhost-user connection (VhostUserFrontend through FrontendHandle) to
// the VM's socket. On RESIZE the guest prints its new size, as a shell would show after SIGWINCH.
import { loadStack } from './stack.js';

interface GuestPort {
  size?: { cols: number; rows: number } | null;
  write(bytes: Uint8Array | string): Promise<void>;
}

export async function startConsoleGuests(vms: { name: string; socket: string }[]): Promise<{ stop(): Promise<void> }> {
  const stack = await loadStack();
  const c = stack.console;
  const t = stack.transport;
  const drivers: { detach(): Promise<void> }[] = [];
  for (const vm of vms) {
    const handle = new c.FrontendHandle((onConfigChange) => t.VhostUserFrontend.connect(vm.socket, { onConfigChange }), stack.ops);
    const driver = new c.VtconDriver(handle) as InstanceType<typeof c.VtconDriver> & { on(e: 'resize', fn: (p: GuestPort) => void): unknown };
    new c.SimulatedGuest(driver, { hostname: vm.name });
    driver.on('resize', (p) => {
      if (p.size) void p.write(`\r\n[${vm.name}: terminal is now ${p.size.cols}x${p.size.rows}]\r\n`).catch(() => undefined);
    });
    await driver.attach();
    drivers.push(driver);
  }
  return {
    stop: async () => {
      await Promise.allSettled(drivers.map((d) => d.detach()));
    },
  };
}
