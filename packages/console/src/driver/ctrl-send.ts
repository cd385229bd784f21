/**
 * The control transmitq (the seed's vtcon_ctrl_send_control → vtcon_ctrl_poll): one 8-byte
 * message at a time, each awaited until the device used it (VTCON_CTRL_TX_LOCK).
 */
import { CONTROL_HEADER_SIZE, VTCON_CTRL_BUFSZ } from '../control/constants.js';
import { encodeControl } from '../control/message.js';
import { ConsoleError } from '../errors.js';
import { VTCON_FLAG_DETACHED, VTCON_FLAG_MULTIPORT, type VtconSoftc } from './softc.js';
import { waitUsed } from './used-wait.js';
import type { DriverQueueBinding } from './virtio-handle.js';

/** vtcon_ctrl_send_control → vtcon_ctrl_poll: one 8-byte message, awaited until used. */
export function ctrlSendControl(sc: VtconSoftc, portid: number, event: number, value: number): Promise<void> {
  if ((sc.flags & VTCON_FLAG_MULTIPORT) === 0) return Promise.resolve();
  const p = sc.ctrlTxLock.then(async () => {
    const vq = sc.ctrlTxvq;
    if (!vq || (sc.flags & VTCON_FLAG_DETACHED)) return;
    if (sc.ctrlTxBuf === 0) sc.ctrlTxBuf = sc.handle.allocBuffer(VTCON_CTRL_BUFSZ);
    sc.handle.memory.view(sc.ctrlTxBuf, CONTROL_HEADER_SIZE).set(encodeControl(portid, event, value));
    await pollOne(sc, vq, sc.ctrlTxBuf, CONTROL_HEADER_SIZE);
  });
  sc.ctrlTxLock = p.catch(() => {});
  return p;
}

/** enqueue one readable buffer, notify, await its used entry (virtqueue_poll). */
async function pollOne(sc: VtconSoftc, vq: DriverQueueBinding, addr: number, len: number): Promise<void> {
  if (vq.queue.addBuffer(addr, len, false, addr) === null) throw new ConsoleError('QUEUE_BROKEN', `queue ${vq.index} not empty (KASSERT virtqueue_empty)`, { scope: 'queue' });
  if (vq.queue.kickPrepare()) vq.kick();
  await waitUsed(vq, sc.opts.pollTimeoutMs ?? 10_000, () => (sc.flags & VTCON_FLAG_DETACHED) !== 0, sc.wakers);
}
