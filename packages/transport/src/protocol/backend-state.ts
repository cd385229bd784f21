/**
 * The protocol state of one back-end connection (what rust-vmm's vhost-user-backend keeps in its
 * handler): negotiated features, the memory table, one VringState per queue, the inflight buffer
 * and the backend request channel. The request handlers (backend-*.ts, one module per request
 * family) read and change it; the session (backend-session.ts) owns it and releases it.
 */
import * as native from '../native.js';
import type { QueueConfig } from '@vtcon/ring';
import type { VhostUserConnection } from '../socket/connection.js';
import { describeRequest } from './message-header.js';
import type { Payload } from './message-payload.js';
import type { VringAddr } from './message-vring.js';
import { VHOST_USER_F_PROTOCOL_FEATURES } from './codes.js';
import { VhostUserError } from '../errors.js';
import { VhostUserMemoryTable } from '../memory/memory-table.js';
import type { Logger, VhostUserDevice } from './device.js';

export const PROTOCOL_FEATURES_BIT = 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);

export interface SessionOptions {
  offeredProtocol: bigint; maxSlots: number; trustUnsealedMemory: boolean;
  /** The connection outlived an earlier engine (held): each ring's first start resumes from its used index. */
  resumed?: boolean;
}

export interface VringState {
  num: number;
  addr: VringAddr | null;
  config: QueueConfig | null;
  lastAvailIdx: number;
  kickFd: number; // -1: none
  kickSet: boolean;
  callFd: number;
  errFd: number;
  enabled: boolean;
  started: boolean;
  /**
   * Taken over from an earlier engine: its SET_VRING_BASE is the one QEMU sent at set-up, not
   * where that engine stopped. A device that uses chains in order has popped, and not used,
   * exactly the chains after used.idx, so the first start here resumes from used.idx.
   */
  resumeFromUsed: boolean;
}

export function newVring(): VringState {
  return { num: 0, addr: null, config: null, lastAvailIdx: 0, kickFd: -1, kickSet: false, callFd: -1, errFd: -1, enabled: false, started: false, resumeFromUsed: false };
}

/** The shared buffer of GET/SET_INFLIGHT_FD, mapped. */
export interface InflightBuffer { fd: number; sab: SharedArrayBuffer; size: number; numQueues: number; queueSize: number }

/** A handler's answer: a reply payload for requests with a reply body, undefined otherwise. */
export type Reply = (Payload & { fds?: number[] }) | undefined;

export const err = (reason: ConstructorParameters<typeof VhostUserError>[0], msg: string) => new VhostUserError(reason, msg, { scope: 'none' });

export class SessionState {
  readonly device: VhostUserDevice;
  readonly log: Logger;
  readonly offeredProtocol: bigint;
  readonly trustUnsealedMemory: boolean;
  readonly memTable: VhostUserMemoryTable;
  vrings: VringState[];
  ackedFeatures = 0n;
  ackedProtocol = 0n;
  status = 0;
  backendReq: VhostUserConnection | null = null;
  inflight: InflightBuffer | null = null;

  constructor(device: VhostUserDevice, log: Logger, o: SessionOptions) {
    this.device = device;
    this.log = log;
    this.offeredProtocol = o.offeredProtocol;
    this.trustUnsealedMemory = o.trustUnsealedMemory;
    this.memTable = new VhostUserMemoryTable(native, {
      maxSlots: o.maxSlots, trustUnsealedMemory: o.trustUnsealedMemory,
      onReleaseError: (e) => this.log.error({ reason: e.reason, err: e.message }, 'guest memory mapping not released'),
    });
    this.vrings = Array.from({ length: device.queueCount }, newVring);
    if (o.resumed) for (const v of this.vrings) v.resumeFromUsed = true;
  }

  vring(index: number, request: number): VringState {
    const v = this.vrings[index];
    if (v === undefined) throw err('QUEUE_INDEX_OUT_OF_RANGE', `${describeRequest('request', request)}: queue ${index} >= queue count ${this.vrings.length}`);
    return v;
  }

  get protocolNegotiated(): boolean { return (this.ackedFeatures & PROTOCOL_FEATURES_BIT) !== 0n; }
}
