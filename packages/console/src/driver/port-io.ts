/**
 * The seed's vtcon_port_* functions: create a port on its queue pair, fill and drain its
 * receiveq (vtcon_port_in → the tty), write to its transmitq (vtcon_port_out), tear it down.
 */
import { VIRTIO_CONSOLE_PORT_READY, VTCON_BULK_BUFSZ } from '../control/constants.js';
import { ConsoleError } from '../errors.js';
import { VTCON_FLAG_DETACHED, type ScPort, type VtconSoftc } from './softc.js';
import { reclaimUsed } from './used-wait.js';
import { VTCON_PORT_FLAG_GONE, VtconPort } from './vtcon-port.js';

/** vtcon_port_create: returns false where the seed returns an error. */
export function portCreate(sc: VtconSoftc, id: number): boolean {
  const scport = sc.scports[id]!;
  if (sc.opts.failPortCreate?.(id)) return false;
  const port = new VtconPort(sc.dev, id);
  portInitVqs(sc, scport);
  scport.port = port;
  portEnableIntr(sc, scport);
  void sc.dev.portSubmitEvent(port, VIRTIO_CONSOLE_PORT_READY, 1);
  sc.dev.emit('port', port);
  return true;
}

/** vtcon_port_init_vqs: drop stale data (vtcon_port_drain) then populate with 128-byte buffers. */
function portInitVqs(sc: VtconSoftc, scport: ScPort): void {
  // Completed buffers left by a previous port on this queue pair are discarded and reposted.
  for (;;) {
    const u = scport.invq.queue.getUsed();
    if (u === null) break;
    scport.inBufs--;
    portRequeueBuf(scport, u.token as number);
  }
  portPopulate(sc, scport);
}

/** vtcon_port_populate */
function portPopulate(sc: VtconSoftc, scport: ScPort): void {
  let nbufs = 0;
  while (scport.invq.queue.numFree > 0) {
    const addr = sc.handle.allocBuffer(VTCON_BULK_BUFSZ);
    if (scport.invq.queue.addBuffer(addr, VTCON_BULK_BUFSZ, true, addr) === null) break;
    scport.inBufs++;
    nbufs++;
  }
  if (nbufs > 0 && scport.invq.queue.kickPrepare()) scport.invq.kick();
}

function portRequeueBuf(scport: ScPort, addr: number): void {
  if (scport.invq.queue.addBuffer(addr, VTCON_BULK_BUFSZ, true, addr) !== null) scport.inBufs++;
}

/** vtcon_port_enable_intr: the in queue's interrupt (the out queue is polled). */
export function portEnableIntr(sc: VtconSoftc, scport: ScPort): void {
  if (!scport.callWatch && (sc.flags & VTCON_FLAG_DETACHED) === 0) scport.callWatch = scport.invq.watchCall(() => portIntr(sc, scport));
  if (scport.invq.queue.enableCallbacks()) setImmediate(() => portIntr(sc, scport));
}

/** vtcon_port_intr → vtcon_port_in: deliver bytes to the tty, requeue, re-enable. */
function portIntr(sc: VtconSoftc, scport: ScPort): void {
  const port = scport.port;
  if (port === null || port.gone || (sc.flags & VTCON_FLAG_DETACHED)) return;
  for (let round = 0; round < 1000; round++) {
    let deq = 0;
    for (;;) {
      const u = scport.invq.queue.getUsed();
      if (u === null) break;
      const addr = u.token as number;
      const len = Math.min(u.len, VTCON_BULK_BUFSZ);
      if (len > 0) port.emit('data', sc.handle.memory.view(addr, len).slice());
      scport.inBufs--;
      portRequeueBuf(scport, addr);
      deq++;
    }
    if (deq > 0 && scport.invq.queue.kickPrepare()) scport.invq.kick();
    if (!scport.invq.queue.enableCallbacks()) return;
  }
}

/**
 * vtcon_port_out, once per txChunk: enqueue, notify, await used. With txInflight > 1 up to that
 * many chains are outstanding; the call resolves when every chain of this write was used.
 */
export async function portOut(sc: VtconSoftc, port: VtconPort, data: Uint8Array): Promise<void> {
  const scport = sc.scports[port.id]!;
  const inflight = Math.max(1, sc.opts.txInflight ?? 1);
  let free = sc.txBufs.get(port.id);
  if (free === undefined) {
    free = Array.from({ length: Math.min(inflight, scport.outvq.queue.size) }, () => sc.handle.allocBuffer(sc.txChunk));
    sc.txBufs.set(port.id, free);
  }
  const all = free.length;
  const timeout = sc.opts.pollTimeoutMs ?? 10_000;
  const stop = (): boolean => port.gone || (sc.flags & VTCON_FLAG_DETACHED) !== 0;
  for (let off = 0; off < data.length; off += sc.txChunk) {
    while (free.length === 0) { await reclaimUsed(scport.outvq, free, timeout, stop, sc.wakers); if (stop()) return; }
    if (stop()) return;
    const buf = free.pop()!;
    const piece = data.subarray(off, off + sc.txChunk);
    sc.handle.memory.view(buf, piece.length).set(piece);
    if (scport.outvq.queue.addBuffer(buf, piece.length, false, buf) === null) {
      throw new ConsoleError('QUEUE_BROKEN', `port ${port.id} transmitq full (KASSERT virtqueue_empty)`, { scope: 'queue' });
    }
    if (scport.outvq.queue.kickPrepare()) scport.outvq.kick();
  }
  while (free.length < all && !stop()) await reclaimUsed(scport.outvq, free, timeout, stop, sc.wakers);
}

/** vtcon_port_teardown: GONE, tty released. */
export function portTeardown(sc: VtconSoftc, port: VtconPort): void {
  port.flags |= VTCON_PORT_FLAG_GONE;
  port.emit('gone');
  sc.dev.emit('port-gone', port);
  sc.wakeWaiters();
}
