/**
 * Per-queue bounds on the readable bytes of one transmit chain. A chain's size is the guest's to
 * choose (descriptor lengths up to 4 GiB each, the same buffer listed many times); the device
 * copies each chain out before it is used (port/transmit.ts, for every transmitq), so without
 * a bound one chain costs that much memory and main-thread time (a 512 MiB chain: ~1 GB RSS, ~4 s).
 * A chain over its bound breaks its queue (CHAIN_TOO_BIG) before anything is allocated for it.
 */
import { ConsoleError } from '../errors.js';
import { CONTROL_HEADER_SIZE } from '../control/constants.js';
import { MAX_PORT_NAME_BYTES } from '../control/port-name.js';

/**
 * Control transmitq: the largest valid control message, PORT_NAME with the longest name the device
 * allows (header + MAX_PORT_NAME_BYTES = 128 bytes, the seed's VTCON_CTRL_BUFSZ). A driver only
 * sends 8-byte messages (DEVICE_READY, PORT_READY, PORT_OPEN), so this is generous.
 */
export const MAX_CONTROL_CHAIN_BYTES = CONTROL_HEADER_SIZE + MAX_PORT_NAME_BYTES;

/**
 * Port transmitq: 4 MiB. Linux writes at most 32 KiB per chain (drivers/char/virtio_console.c,
 * port_fops_write) and hvc far less; the seed writes VTCON_BULK_BUFSZ. 4 MiB leaves room for other
 * drivers while a worker's biggest allocation stays that of a few ring pieces' worth of chains
 * (a chain bigger than the byte ring's free space is copied once, then written in pieces).
 */
export const MAX_PORT_CHAIN_BYTES = 4 << 20;

/**
 * One servicing pass of any queue ends once the chains it popped had this many descriptors, as at
 * its chain limit (the caller runs the next pass after the thread's other work). A chain may run
 * through the whole ring (32768 descriptors) and every avail slot may name it: without this bound
 * one kick was a billion descriptors walked in passes of 256 chains, seconds each, while the
 * queues sharing the thread (the main thread's control queues, a worker's shard) waited.
 */
export const MAX_PASS_DESCRIPTORS = 4096;

/** Throw CHAIN_TOO_BIG (scope 'queue') if a chain's readable bytes exceed `max`. */
export function checkChainBytes(readableBytes: number, max: number, head: number): void {
  if (readableBytes > max) {
    throw new ConsoleError('CHAIN_TOO_BIG', `chain ${head} has ${readableBytes} readable bytes, more than this queue's bound of ${max}`, { scope: 'queue' });
  }
}
