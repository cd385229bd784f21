// Test support: one port of a guest driven from the test process (the seed driver model over a
// daemon's real vhost-user socket), opened as the guest's tty would be.
import { connectGuest, type VtconDriver } from '@vtcon/console/testing';
import { waitFor } from './binary.js';

export interface GuestPort { driver: VtconDriver; write(b: Uint8Array): Promise<void> }

export async function guestPort(socket: string, name: string): Promise<GuestPort> {
  const { driver } = await connectGuest(socket, { txChunk: 4096 });
  await waitFor(() => driver.portByName(name), `port ${name} in the guest`);
  const p = driver.portByName(name)!;
  if (!p.console) await p.open();
  return { driver, write: (b) => p.write(b) };
}
