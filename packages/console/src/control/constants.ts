/**
 * virtio-console constants, spelled as in the virtio spec (1.2 §5.3) and the seed
 * (FreeBSD sys/dev/virtio/console/virtio_console.h).
 */

/** Device ID of a console in the virtio spec (§5 table). */
export const VIRTIO_ID_CONSOLE = 3;

// Feature bits (§5.3.3).
export const VIRTIO_CONSOLE_F_SIZE = 0;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

// Generic virtio feature bits the device offers (§6). The ring's own bits are @vtcon/ring's.
export { VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from '@vtcon/ring';
export const VIRTIO_F_VERSION_1 = 32;

// Control events (§5.3.6.2, struct virtio_console_control.event).
export const VIRTIO_CONSOLE_DEVICE_READY = 0;
export const VIRTIO_CONSOLE_DEVICE_ADD = 1;
export const VIRTIO_CONSOLE_DEVICE_REMOVE = 2;
export const VIRTIO_CONSOLE_PORT_READY = 3;
export const VIRTIO_CONSOLE_CONSOLE_PORT = 4;
export const VIRTIO_CONSOLE_RESIZE = 5;
export const VIRTIO_CONSOLE_PORT_OPEN = 6;
export const VIRTIO_CONSOLE_PORT_NAME = 7;

/** The seed's (and Linux's) names for DEVICE_ADD / DEVICE_REMOVE. */
export const VIRTIO_CONSOLE_PORT_ADD = VIRTIO_CONSOLE_DEVICE_ADD;
export const VIRTIO_CONSOLE_PORT_REMOVE = VIRTIO_CONSOLE_DEVICE_REMOVE;

/** id used by DEVICE_READY, which is about the device, not a port (seed: VIRTIO_CONSOLE_BAD_ID). */
export const VIRTIO_CONSOLE_BAD_ID = 0xffffffff;

/** The seed's VTCON_MAX_PORTS: the driver never uses more ports than this. */
export const VTCON_MAX_PORTS = 32;
/**
 * The most ports a device offers: QEMU's virtio-serial refuses max_nr_ports above
 * VIRTIO_QUEUE_MAX / 2 - 1 = 511 (hw/char/virtio-serial-bus.c), as 2 + 2 * 511 = 1024 queues is
 * VIRTIO_QUEUE_MAX. A Linux guest has no cap of its own (drivers/char/virtio_console.c reads
 * max_nr_ports as is); the seed caps at VTCON_MAX_PORTS.
 */
export const MAX_NR_PORTS = 511;
/**
 * The most ports over vhost-user: it names at most 256 queues (the vring index of SET_VRING_KICK /
 * CALL / ERR is 8 bits; @vtcon/transport VHOST_USER_MAX_QUEUES), and (256 - 2) / 2 = 127.
 */
export const VHOST_USER_MAX_NR_PORTS = 127;
/** The seed's VTCON_BULK_BUFSZ / VTCON_CTRL_BUFSZ: receive buffer sizes it posts. */
export const VTCON_BULK_BUFSZ = 128;
export const VTCON_CTRL_BUFSZ = 128;

/** sizeof(struct virtio_console_control): le32 id, le16 event, le16 value. */
export const CONTROL_HEADER_SIZE = 8;

export const CONTROL_EVENT_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_CONSOLE_DEVICE_READY]: 'DEVICE_READY',
  [VIRTIO_CONSOLE_DEVICE_ADD]: 'DEVICE_ADD',
  [VIRTIO_CONSOLE_DEVICE_REMOVE]: 'DEVICE_REMOVE',
  [VIRTIO_CONSOLE_PORT_READY]: 'PORT_READY',
  [VIRTIO_CONSOLE_CONSOLE_PORT]: 'CONSOLE_PORT',
  [VIRTIO_CONSOLE_RESIZE]: 'RESIZE',
  [VIRTIO_CONSOLE_PORT_OPEN]: 'PORT_OPEN',
  [VIRTIO_CONSOLE_PORT_NAME]: 'PORT_NAME',
};

export function isKnownControlEvent(event: number): boolean {
  return event >= VIRTIO_CONSOLE_DEVICE_READY && event <= VIRTIO_CONSOLE_PORT_NAME && Number.isInteger(event);
}

/** Bit → bigint mask helper for 64-bit feature words. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}
