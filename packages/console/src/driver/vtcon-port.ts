/**
 * VtconPort: one port as the guest's tty layer sees it (the seed's struct vtcon_port + its tty,
 * and the vtcon_tty_* functions). The driver owns the queues; a port asks it to send control
 * events and to write.
 */
import { EventEmitter } from 'node:events';
import { VIRTIO_CONSOLE_PORT_OPEN } from '../control/constants.js';
import type { ConsoleSize } from '../control/resize.js';
import { ConsoleError } from '../errors.js';

/** One encoder for every port's writes (the echo path writes a string per keystroke). */
const utf8 = new TextEncoder();

export const VTCON_PORT_FLAG_GONE = 0x01;
export const VTCON_PORT_FLAG_CONSOLE = 0x02;
export const VTCON_PORT_FLAG_ALIAS = 0x04;

/** What a port needs from its driver (VtconDriver): vtcon_port_submit_event and vtcon_port_out. */
export interface VtconPortDriver {
  portSubmitEvent(port: VtconPort, event: number, value: number): Promise<void>;
  portOut(port: VtconPort, data: Uint8Array): Promise<void>;
}

/** One port as the guest's tty layer sees it (struct vtcon_port + its tty). */
export class VtconPort extends EventEmitter<{ data: [bytes: Uint8Array]; gone: [] }> {
  flags = 0;
  name: string | null = null;
  size: ConsoleSize | null = null;
  /** Last PORT_OPEN value from the host (the seed only enables the interrupt). */
  hostOpen = false;
  /** Guest-side open count, like a tty that is open. */
  ttyOpen = false;
  private outChain: Promise<void> = Promise.resolve();

  constructor(readonly driver: VtconPortDriver, readonly id: number) { super(); }

  get console(): boolean { return (this.flags & VTCON_PORT_FLAG_CONSOLE) !== 0; }
  get gone(): boolean { return (this.flags & VTCON_PORT_FLAG_GONE) !== 0; }

  /** vtcon_tty_open: ENXIO when gone, else PORT_OPEN(1). */
  async open(): Promise<void> {
    if (this.gone) throw new ConsoleError('NO_SUCH_PORT', `port ${this.id} is gone (ENXIO)`);
    this.ttyOpen = true;
    await this.driver.portSubmitEvent(this, VIRTIO_CONSOLE_PORT_OPEN, 1);
  }

  /** vtcon_tty_close: nothing when gone, else PORT_OPEN(0). */
  async close(): Promise<void> {
    if (this.gone) return;
    this.ttyOpen = false;
    await this.driver.portSubmitEvent(this, VIRTIO_CONSOLE_PORT_OPEN, 0);
  }

  /** vtcon_tty_outwakeup: write bytes in txChunk pieces, each awaited like vtcon_port_out. */
  write(bytes: Uint8Array | string): Promise<void> {
    const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes.slice();
    const p = this.outChain.then(async () => {
      if (this.gone) return;
      await this.driver.portOut(this, data);
    });
    this.outChain = p.catch(() => {});
    return p;
  }
}
