/**
 * The control queues (virtio 1.2 §5.3.2): the control receiveq (2, device→driver) and the control
 * transmitq (3, driver→device), serviced on the main thread. Messages to the driver wait in a
 * bounded backlog while the guest posts no control buffers; each message from the driver is handed
 * on as a copy (what it means is control-handler.ts). A queue the device cannot use (BAD_RING, a
 * kick or call fd that fails) stops, is forgotten and is reported once; nothing else breaks.
 */
import { RawChain } from '@vtcon/ring';
import { CONTROL_EVENT_NAMES } from '../control/constants.js';
import { encodeControl } from '../control/message.js';
import { MAX_CONTROL_CHAIN_BYTES, MAX_PASS_DESCRIPTORS } from '../port/chain-bound.js';
import type { QueueBinding } from '../port/queue.js';
import { popReadableChains } from '../port/transmit.js';
import type { GuestWarn } from './events.js';
import type { BindQueue } from './inline-engine.js';
import type { Logger } from './logger.js';
import { CONTROL_RECEIVEQ, CONTROL_TRANSMITQ } from './queue-map.js';
import type { StartedQueueLike } from './vhost-device.js';

const MAX_CONTROL_BATCH = 256;

interface ControlQueue { b: QueueBinding; kick: { stop(): void } }

export interface ControlQueuesDeps {
  bind: BindQueue;
  /** Messages queued while the guest posts no control buffers. */
  limit: number;
  log: Logger;
  guestWarn: GuestWarn;
  /** One driver→device message (a copy). */
  received(bytes: Uint8Array): void;
  /** A control queue broke: it is stopped and forgotten already. */
  failed(index: number, error: unknown): void;
}

export class ControlQueues {
  private rx: ControlQueue | null = null;
  private tx: ControlQueue | null = null;
  private out: Uint8Array[] = [];
  private txScheduled = false;
  private rxScheduled = false;
  private readonly rxChain = new RawChain();
  /** Why a control queue stopped or a message was refused; null until then (stats().controlError). */
  error: string | null = null;

  constructor(private readonly deps: ControlQueuesDeps) {}

  /** Messages waiting for control buffers. */
  get backlog(): number { return this.out.length; }
  get bothRunning(): boolean { return this.rx !== null && this.tx !== null; }
  get anyRunning(): boolean { return this.rx !== null || this.tx !== null; }

  /**
   * Start control queue `index` (2 or 3) and service it. `beforeService` runs once the queue is
   * counted as running and before any of it is serviced.
   */
  start(index: number, q: StartedQueueLike, beforeService: () => void): void {
    let b: QueueBinding;
    try { b = this.deps.bind(index, q); } catch (e) { this.deps.failed(index, e); return; } // a bad ring: BAD_RING
    const c: ControlQueue = { b, kick: { stop() {} } };
    if (index === CONTROL_TRANSMITQ) this.tx = c; else this.rx = c;
    beforeService();
    const service = index === CONTROL_TRANSMITQ ? (): void => this.serviceTx() : (): void => this.flush();
    // A kick fd that cannot be watched fails at once (breakQueue): service only a live queue.
    c.kick = b.watchKick(service, (e) => this.breakQueue(c, index, e));
    if (this.tx === c || this.rx === c) service();
  }

  /** Stop control queue `index`; null if it was not running. */
  stop(index: number): { lastAvailIdx: number } | null {
    const c = index === CONTROL_RECEIVEQ ? this.rx : this.tx;
    if (!c) return null;
    c.kick.stop();
    if (index === CONTROL_RECEIVEQ) this.rx = null; else this.tx = null;
    return { lastAvailIdx: c.b.queue.lastAvailIdx };
  }

  stopAll(): void {
    this.rx?.kick.stop(); this.rx = null;
    this.tx?.kick.stop(); this.tx = null;
  }

  /** Drop what was queued for the driver and the error: a new driver instance starts clean. */
  clear(): void {
    this.out = [];
    this.error = null;
  }

  /** Queue a device→driver control message and push it into posted control buffers. */
  send(id: number, event: number, value: number, payload?: Uint8Array): void {
    if (this.out.length >= this.deps.limit) {
      this.deps.log.error({ id, event: CONTROL_EVENT_NAMES[event], pending: this.out.length }, 'control backlog full: the guest posts no control buffers; message refused');
      this.error = 'control backlog full';
      return;
    }
    this.out.push(encodeControl(id, event, value, payload));
    this.flush();
  }

  /**
   * Control messages into the buffers the guest posted, MAX_CONTROL_BATCH chains or
   * MAX_PASS_DESCRIPTORS descriptors a pass (the rest after the event loop's other work: a guest
   * may post chains through its whole ring while thousands of messages wait).
   */
  private flush(): void {
    const c = this.rx;
    if (!c || this.out.length === 0) return;
    let more = false;
    try {
      const q = c.b.queue;
      const chain = this.rxChain;
      let n = 0;
      let descriptors = 0;
      while (this.out.length > 0) {
        if (n >= MAX_CONTROL_BATCH || descriptors >= MAX_PASS_DESCRIPTORS) { more = true; break; }
        if (!q.popAvailableInto(chain)) {
          if (q.enableNotification()) continue;
          break;
        }
        const msg = this.out.shift()!;
        const written = chain.fillWritable(msg);
        if (written < msg.length) this.deps.guestWarn({ need: msg.length, got: written }, 'control buffer too small; message truncated');
        q.pushUsed(chain.head, written);
        n++;
        descriptors += chain.count;
      }
      if (n > 0 && q.needsNotification()) c.b.notify();
    } catch (e) {
      this.breakQueue(c, CONTROL_RECEIVEQ, e);
      return;
    }
    if (more && !this.rxScheduled) {
      this.rxScheduled = true;
      setImmediate(() => { this.rxScheduled = false; this.flush(); });
    }
  }

  /** BAD_RING for a control queue: stop watching it, forget it, report it once. */
  private breakQueue(c: ControlQueue, index: number, e: unknown): void {
    c.kick.stop();
    if (this.rx === c) this.rx = null;
    else if (this.tx === c) this.tx = null;
    else return; // already stopped or broken
    this.deps.failed(index, e);
  }

  private serviceTx(): void {
    const c = this.tx;
    if (!c) return;
    let batch: ReturnType<typeof popReadableChains>;
    try {
      batch = popReadableChains(c.b.queue, MAX_CONTROL_BATCH, MAX_CONTROL_CHAIN_BYTES);
      c.b.queue.publishUsed();
    } catch (e) {
      this.breakQueue(c, CONTROL_TRANSMITQ, e);
      return;
    }
    const { copies: msgs, more, error } = batch;
    try {
      if (msgs.length > 0 && c.b.queue.needsNotification()) c.b.notify();
    } catch (e) {
      this.breakQueue(c, CONTROL_TRANSMITQ, e);
    }
    // The messages before a malformed chain (or a failed interrupt) were used: they count.
    if (error !== null) this.breakQueue(c, CONTROL_TRANSMITQ, error);
    for (const m of msgs) this.deps.received(m);
    if (more && !this.txScheduled) {
      // A guest flooding the control queue gets batches, with the event loop in between.
      this.txScheduled = true;
      setImmediate(() => { this.txScheduled = false; this.serviceTx(); });
    }
  }
}
