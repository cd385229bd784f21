/**
 * The device interface @vtcon/transport's backend serves (contracts.md), restated structurally so
 * this package compiles against it without importing the backend. Types of memory/config are the
 * ring's GuestMemory / QueueConfig.
 */
export interface StartedQueueLike<M = unknown, C = unknown> {
  index: number;
  memory: M;
  config: C;
  lastAvailIdx: number;
  usedIdx: number;
  kickFd: number;
  callFd: number;
  regionFds: { fd: number; size: number; offset: number; guestPhysAddr: number }[];
}

export interface BackendChannelLike { configChanged(): void }

export interface VhostUserDeviceLike {
  readonly features: bigint;
  readonly queueCount: number;
  readonly configSize: number;
  getConfig(offset: number, size: number): Uint8Array;
  setConfig?(offset: number, data: Uint8Array): void;
  setFeatures(acked: bigint): void;
  startQueue(index: number, q: StartedQueueLike): void;
  stopQueue(index: number): Promise<{ lastAvailIdx: number }> | { lastAvailIdx: number };
  reset?(): void;
  attachBackendChannel?(ch: BackendChannelLike): void;
  disconnected(): void;
}
