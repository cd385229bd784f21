/**
 * The feature bits the device offers (virtio 1.2 §5.3.3) and whether MULTIPORT is in effect.
 */
import {
  featureBit, VIRTIO_CONSOLE_F_EMERG_WRITE, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE, VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
} from '../control/constants.js';

export function offeredFeatures(multiport: boolean): bigint {
  return featureBit(VIRTIO_CONSOLE_F_SIZE) | featureBit(VIRTIO_CONSOLE_F_EMERG_WRITE)
    | (multiport ? featureBit(VIRTIO_CONSOLE_F_MULTIPORT) : 0n)
    | featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_RING_F_INDIRECT_DESC);
}

/** MULTIPORT offered, and acked by the driver (or nothing negotiated yet). */
export function multiportInEffect(offered: bigint, acked: bigint): boolean {
  return (offered & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n && (acked === 0n || (acked & featureBit(VIRTIO_CONSOLE_F_MULTIPORT)) !== 0n);
}
