/**
 * Hostile front-end and guest against the main-thread paths (issue 11 items 1 and 2): kick/call
 * fds that are absent, read-only, or sockets whose peer went away, and chains bigger than their
 * queue's bound. Real eventfds, real sockets, real shared memory; the device's default bindQueue
 * (the addon's uv_poll). Each failure must break only its queue (a 'queue-error', QUEUE_BROKEN
 * with the cause's reason) and never throw out of a native callback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, openSync } from 'node:fs';
import * as native from '@vtcon/transport/native';
import { ConsoleDevice, type ConsoleDeviceEvents } from './console-device.js';
import { CONTROL_RECEIVEQ, CONTROL_TRANSMITQ, receiveqOf, transmitqOf } from './queue-map.js';
import { encodeControl } from '../control/message.js';
import { VIRTIO_CONSOLE_DEVICE_READY, VIRTIO_CONSOLE_PORT_OPEN, VIRTIO_CONSOLE_PORT_READY } from '../control/constants.js';
import { MAX_CONTROL_CHAIN_BYTES, MAX_PORT_CHAIN_BYTES } from '../port/chain-bound.js';
import { RawGuest } from '../test-support/raw-queues.js';
import { until } from '../test-support/until.js';

type QueueErrorInfo = ConsoleDeviceEvents['queue-error'][0];

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

function setup(opts: { ports?: number } = {}) {
  const guest = new RawGuest();
  const warnings: { obj: object; msg?: string }[] = [];
  const logger = { debug() {}, info() {}, warn: (obj: object, msg?: string) => warnings.push({ obj, msg }), error: (obj: object, msg?: string) => warnings.push({ obj, msg }) };
  const dev = new ConsoleDevice({ ports: Array.from({ length: opts.ports ?? 2 }, (_, i) => ({ name: `p${i}` })), logger });
  const errors: QueueErrorInfo[] = [];
  dev.on('queue-error', (e) => errors.push(e));
  dev.setFeatures(dev.features);
  cleanups.push(() => { void dev.close(); guest.close(); });
  return { guest, dev, errors, warnings };
}

const causeReason = (e: QueueErrorInfo): string | undefined => (e.error.cause as { reason?: string } | undefined)?.reason;

describe('guarded kick and call fds (main thread)', () => {
  it('a control transmitq started without a call fd is serviced and sends no interrupt', async () => {
    const { guest, dev, errors } = setup();
    guest.start(dev, CONTROL_RECEIVEQ);
    const tx = guest.start(dev, CONTROL_TRANSMITQ, { callFd: -1 });
    tx.post(encodeControl(0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1));
    await until(() => dev.stats().driverReady);
    expect(tx.driver().getUsed()).not.toBeNull(); // the chain was used: the front-end polls for it
    expect(errors).toEqual([]);
  });

  it('a read-only call fd breaks only the control transmitq (CALL_FD_FAILED)', async () => {
    const { guest, dev, errors } = setup();
    const ro = openSync('/dev/null', 'r');
    cleanups.push(() => closeSync(ro));
    guest.start(dev, CONTROL_RECEIVEQ);
    const tx = guest.start(dev, CONTROL_TRANSMITQ, { callFd: ro });
    tx.post(encodeControl(0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1));
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ index: CONTROL_TRANSMITQ, port: null, error: { reason: 'QUEUE_BROKEN', scope: 'queue' } });
    expect(causeReason(errors[0]!)).toBe('CALL_FD_FAILED');
    expect(dev.stats().controlError).toMatch(/CALL_FD_FAILED/);
    // The message in the chain that was used before the failed interrupt still counted.
    expect(dev.stats().driverReady).toBe(true);
  });

  for (const [what, index] of [['the control transmitq', CONTROL_TRANSMITQ], ['a port transmitq', transmitqOf(1)]] as const) {
    it(`a socket kick fd whose peer reset breaks only ${what} (KICK_FD_FAILED); the other queues go on`, async () => {
      const { guest, dev, errors } = setup();
      const [ours, peer] = native.socketPair();
      cleanups.push(() => native.close(ours));
      // The device gets `ours` as kick fd; bytes sit unread at the peer, which then closes:
      // reading `ours` fails with ECONNRESET.
      native.sendMsg(ours, new Uint8Array(8));
      if (index !== CONTROL_TRANSMITQ) guest.start(dev, CONTROL_TRANSMITQ);
      guest.start(dev, index, { kickFd: ours });
      native.close(peer);
      await until(() => errors.length === 1);
      expect(errors[0]).toMatchObject({ index, error: { reason: 'QUEUE_BROKEN' } });
      expect(causeReason(errors[0]!)).toBe('KICK_FD_FAILED');
      // Another queue of the VM still works: port 0's transmitq delivers.
      const rx: Uint8Array[] = [];
      dev.on('data', (p, b) => { if (p === 0) rx.push(b); });
      const tx0 = guest.start(dev, transmitqOf(0));
      tx0.post(new TextEncoder().encode('still here'));
      await until(() => Buffer.concat(rx).toString() === 'still here');
    });
  }

  it('a socket kick fd at EOF (polls readable, reads nothing) breaks its queue instead of spinning', async () => {
    const { guest, dev, errors } = setup();
    const [ours, peer] = native.socketPair();
    cleanups.push(() => native.close(ours));
    guest.start(dev, transmitqOf(1), { kickFd: ours });
    native.close(peer);
    await until(() => errors.length === 1);
    expect(causeReason(errors[0]!)).toBe('KICK_FD_FAILED');
    expect(errors[0]!.error.message).toMatch(/reads nothing/);
  });

  it('a kick fd epoll refuses (/dev/null) breaks only its queue, at start', () => {
    const { guest, dev, errors } = setup();
    const devNull = openSync('/dev/null', 'r');
    cleanups.push(() => closeSync(devNull));
    guest.start(dev, CONTROL_RECEIVEQ, { kickFd: devNull });
    guest.start(dev, receiveqOf(1), { kickFd: devNull });
    expect(errors.map((e) => [e.index, causeReason(e)])).toEqual([[CONTROL_RECEIVEQ, 'KICK_FD_FAILED'], [receiveqOf(1), 'KICK_FD_FAILED']]);
  });

  it('a misaligned port ring breaks only that queue at start (RING_MISALIGNED)', () => {
    const { guest, dev, errors } = setup();
    const q = guest.start(dev, transmitqOf(0));
    guest.start(dev, transmitqOf(1), { config: { descAddr: q.config.descAddr + 2 } });
    expect(errors.map((e) => [e.index, causeReason(e)])).toEqual([[transmitqOf(1), 'RING_MISALIGNED']]);
  });
});

describe('chain bounds (main thread)', () => {
  it(`a port transmitq chain over ${MAX_PORT_CHAIN_BYTES} readable bytes breaks that queue (CHAIN_TOO_BIG); the chains before it are delivered`, async () => {
    const { guest, dev, errors } = setup();
    const rx: Uint8Array[] = [];
    dev.on('data', (p, b) => { if (p === 1) rx.push(b.slice()); });
    guest.start(dev, CONTROL_TRANSMITQ);
    const tx = guest.start(dev, transmitqOf(1));
    tx.post(new TextEncoder().encode('before'));
    await until(() => rx.length === 1);
    // 40 segments over one 128 KiB buffer: 5 MiB readable from 128 KiB of guest memory.
    tx.postRepeated(128 * 1024, 40);
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ index: transmitqOf(1), port: 1, error: { reason: 'QUEUE_BROKEN' } });
    expect(causeReason(errors[0]!)).toBe('CHAIN_TOO_BIG');
    expect(Buffer.concat(rx).toString()).toBe('before');
    expect(dev.port(1).error).toMatch(/CHAIN_TOO_BIG/);
  });

  it(`a control transmitq chain over ${MAX_CONTROL_CHAIN_BYTES} bytes breaks the control transmitq (CHAIN_TOO_BIG)`, async () => {
    const { guest, dev, errors } = setup();
    guest.start(dev, CONTROL_RECEIVEQ);
    const tx = guest.start(dev, CONTROL_TRANSMITQ);
    tx.post(encodeControl(0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1));
    await until(() => dev.stats().driverReady);
    const big = new Uint8Array(MAX_CONTROL_CHAIN_BYTES + 1);
    big.set(encodeControl(0, VIRTIO_CONSOLE_PORT_READY, 1));
    tx.post(big);
    await until(() => errors.length === 1);
    expect(causeReason(errors[0]!)).toBe('CHAIN_TOO_BIG');
    expect(dev.port(0).guestReady).toBe(false); // the oversized message was not handled
    // The largest valid message size still passes on a fresh control queue.
    const tx2 = guest.start(dev, CONTROL_TRANSMITQ);
    const ok = new Uint8Array(MAX_CONTROL_CHAIN_BYTES);
    ok.set(encodeControl(0, VIRTIO_CONSOLE_PORT_OPEN, 1));
    tx2.post(ok);
    await until(() => dev.port(0).guestOpen);
    expect(errors).toHaveLength(1);
  });
});

describe('a guest flooding the control queue', () => {
  it('bad control messages are counted and reported; their log lines are rate-limited with a suppressed count', async () => {
    const { guest, dev, warnings } = setup();
    const rejected: string[] = [];
    dev.on('control-rejected', (r) => rejected.push(r));
    guest.start(dev, CONTROL_RECEIVEQ);
    const tx = guest.start(dev, CONTROL_TRANSMITQ, { size: 1024 });
    for (let i = 0; i < 1000; i++) tx.post(encodeControl(0, 99, 0)); // event 99: not in the spec
    tx.post(encodeControl(0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 0));
    await until(() => rejected.length === 1001);
    expect(rejected.filter((r) => r === 'UNKNOWN_EVENT')).toHaveLength(1000);
    expect(rejected[1000]).toBe('DRIVER_INIT_FAILED'); // not ATTACH_FAILED: that is the driver model's
    expect(dev.stats()).toMatchObject({ controlRejected: 1001, guestLogSuppressed: 1001 - 10 });
    expect(warnings).toHaveLength(10);
  });
});
