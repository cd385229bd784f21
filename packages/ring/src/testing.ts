/**
 * @vtcon/ring/testing — fixtures that build guest memory for tests,
 * examples and benchmarks. Not for production data paths.
 */
import { GuestMemory } from './guest-memory.js';
import { layOutQueue, splitQueueLayout, type QueueConfig } from './layout.js';
import type { IndirectArea } from './driver-queue.js';

/** One region of `bytes` bytes at guest-physical `guestPhysAddr` (default 0x10000), shared by default. */
export function makeGuestMemory(bytes: number, opts: { shared?: boolean; guestPhysAddr?: number } = {}): GuestMemory {
  const shared = opts.shared ?? true;
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  return new GuestMemory([{ guestPhysAddr: opts.guestPhysAddr ?? 0x10000, size: bytes, buffer }]);
}

/** Hands out aligned guest-physical ranges from [base, base+size), never reusing them. */
export class BumpAllocator {
  #next: number;
  readonly #end: number;
  constructor(base: number, size: number) {
    this.#next = base;
    this.#end = base + size;
  }
  /** @throws Error when the range is exhausted. */
  alloc(len: number, align = 8): number {
    const addr = Math.ceil(this.#next / align) * align;
    if (addr + len > this.#end) throw new Error(`BumpAllocator: no room for ${len} bytes`);
    this.#next = addr + len;
    return addr;
  }
  get remaining(): number {
    return this.#end - this.#next;
  }
}

/** Fixed-size buffers with a free list: alloc()/free() in O(1). */
export class BufferPool {
  readonly bufferSize: number;
  readonly #free: number[] = [];
  constructor(base: number, count: number, bufferSize: number) {
    this.bufferSize = bufferSize;
    for (let i = count - 1; i >= 0; i--) this.#free.push(base + i * bufferSize);
  }
  alloc(): number | null {
    return this.#free.pop() ?? null;
  }
  free(addr: number): void {
    this.#free.push(addr);
  }
  get available(): number {
    return this.#free.length;
  }
}

export interface TestQueue {
  memory: GuestMemory;
  config: QueueConfig & { indirectArea?: IndirectArea };
  /** Allocator for data buffers after the ring (and indirect area). */
  alloc: BumpAllocator;
}

/**
 * Memory with one queue laid out at its start, an indirect area when
 * `indirect` is set, and the rest for buffers.
 */
export function makeTestQueue(opts: { size: number; eventIdx?: boolean; indirect?: boolean; bytes?: number; shared?: boolean }): TestQueue {
  const bytes = opts.bytes ?? 1 << 20;
  const memory = makeGuestMemory(bytes, { shared: opts.shared ?? true });
  const base = memory.regions[0]!.guestPhysAddr;
  const alloc = new BumpAllocator(base, bytes);
  const ringAddr = alloc.alloc(splitQueueLayout(opts.size).totalBytes, 64);
  const addrs = layOutQueue(memory, ringAddr, opts.size);
  const config: TestQueue['config'] = { ...addrs, size: opts.size, eventIdx: opts.eventIdx ?? false, indirect: opts.indirect ?? false };
  if (opts.indirect) {
    const areaBytes = opts.size * 8 * 16;
    config.indirectArea = { addr: alloc.alloc(areaBytes, 16), bytes: areaBytes };
  }
  return { memory, config, alloc };
}
