/**
 * What a ConsoleDevice reports: its events and its stats() snapshot.
 */
import type { EventEmitter } from 'node:events';
import type { ConsoleError, ConsoleErrorReason } from '../errors.js';
import type { ConsoleSize } from '../control/resize.js';
import type { PortStats } from '../port/port.js';

export interface DeviceStats {
  connected: boolean;
  driverReady: boolean;
  multiport: boolean;
  ackedFeatures: string;
  maxPorts: number;
  size: ConsoleSize;
  controlBacklog: number;
  controlError: string | null;
  /** Control messages from the guest refused since the device was created ('control-rejected'). */
  controlRejected: number;
  /** Guest-caused log lines suppressed by the rate limit since the device was created. */
  guestLogSuppressed: number;
  emergencyBytes: number;
  ports: PortStats[];
}

export interface ConsoleDeviceEvents {
  'port-open': [port: PortStats, open: boolean];
  'port-ready': [port: PortStats, ok: boolean];
  'port-added': [port: PortStats];
  'port-removed': [port: PortStats];
  'driver-ready': [];
  'queue-error': [info: { index: number; port: number | null; error: ConsoleError }];
  /** A port's log could not be opened or written; the port goes on without it. */
  'log-failed': [info: { port: number; error: ConsoleError }];
  'emergency-write': [byte: number];
  /**
   * A control message from the guest was refused (unknown event, bad id, DEVICE_READY(0)...); also
   * counted in stats().controlRejected. Its log line is rate-limited (guestLogLimit), this is not.
   */
  'control-rejected': [reason: ConsoleErrorReason];
  'features': [acked: bigint];
  'disconnected': [];
  /** host→guest bytes of a port went into guest buffers: its backlog has room again. */
  'wrote': [port: number, bytes: number];
  /** guest→host bytes of a port, after the sinks got them (a copy the listener owns). */
  'data': [port: number, bytes: Uint8Array];
}

/** The device's emit, handed to the modules that raise its events. */
export type EmitDeviceEvent = EventEmitter<ConsoleDeviceEvents>['emit'];

/** A log line the guest caused, within the device's budget for them (log-limiter.ts). */
export type GuestWarn = (ctx: object, msg: string) => void;
