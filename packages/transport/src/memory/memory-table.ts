/**
 * The back-end's view of guest RAM: the vhost-user memory table (SET_MEM_TABLE, ADD_MEM_REG,
 * REM_MEM_REG) mapped into SharedArrayBuffers and exposed as an @vtcon/ring GuestMemory.
 *
 * Thread contract: main thread only (it owns the fds and the mappings). Workers get the SABs
 * (or `regionFds` to map themselves) through StartedQueue.
 *
 * Lifetime: every mapping is released explicitly (`releaseMapping`: the memfd is dropped at once,
 * the SAB stays valid but reads zeros) and every fd closed when a region is replaced/removed or
 * `release()` runs. We never wait for GC: mapped memory is not heap pressure, so a fleet of
 * reconnecting VMs would otherwise pin their RAM.
 *
 * Address spaces (spec "Memory access"): descriptor addresses are guest-physical → `memory`.
 * SET_VRING_ADDR carries front-end user addresses → `userToGuestPhys`.
 */
import { GuestMemory } from '@vtcon/ring';
import { VhostUserError } from '../errors.js';
import type { FdInfo } from '../native.js';
import type { MemoryRegionDescription } from '../protocol/message-memory.js';
import { checkMemoryFd, type MemoryFdPolicy } from '../socket/received-fd.js';

/** The syscalls this module needs; native.ts provides them, tests may fake them. */
export interface RegionMapper {
  mmapShared(fd: number, size: number, offset: number): SharedArrayBuffer;
  releaseMapping(sab: SharedArrayBuffer): void;
  close(fd: number): void;
  /** Kind, size and seals of the fd (the region's file must be sealed and long enough). */
  fdInfo(fd: number): FdInfo;
}

/**
 * The largest region taken: 1 TiB. GuestMemory views a region longer than one typed array (4 GiB
 * on Node.js 20) through 1 GiB windows (ring/guest-memory.ts); this bounds what a peer makes us
 * build on the main thread and in each worker (1024 windows, a few ms) for one region.
 */
export const MAX_REGION_BYTES = 2 ** 40;

export interface MemoryTableOptions extends MemoryFdPolicy {
  maxSlots?: number;
  /** Default MAX_REGION_BYTES; tests lower it. */
  maxRegionBytes?: number;
  /** A mapping that could not be released (MAPPING_RELEASE_FAILED): the file stays mapped until GC. */
  onReleaseError?: (e: VhostUserError) => void;
}

export interface MappedRegion {
  guestPhysAddr: number;
  size: number;
  userAddr: number;
  mmapOffset: number;
  fd: number;
  /** The mapping starts at mmapOffset aligned down to a page; the region starts `sabOffset` in. */
  sab: SharedArrayBuffer;
  sabOffset: number;
}

export interface RegionFd { fd: number; size: number; offset: number; guestPhysAddr: number }

export const PAGE_SIZE = 4096;

function toNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VhostUserError('ADDRESS_TOO_LARGE', `${what} 0x${v.toString(16)} is beyond 2^53`, { scope: 'none' });
  return Number(v);
}

function overlaps(aStart: number, aSize: number, bStart: number, bSize: number): boolean {
  return aStart < bStart + bSize && bStart < aStart + aSize;
}

export class VhostUserMemoryTable {
  private readonly mapper: RegionMapper;
  readonly maxSlots: number;
  private regions: MappedRegion[] = [];
  private cached: GuestMemory | null = null;
  private readonly policy: MemoryFdPolicy;
  private readonly onReleaseError: (e: VhostUserError) => void;
  private readonly maxRegionBytes: number;

  constructor(mapper: RegionMapper, opts: MemoryTableOptions = {}) {
    this.mapper = mapper;
    this.maxSlots = opts.maxSlots ?? 8;
    this.maxRegionBytes = opts.maxRegionBytes ?? MAX_REGION_BYTES;
    this.policy = { trustUnsealedMemory: opts.trustUnsealedMemory === true };
    this.onReleaseError = opts.onReleaseError ?? (() => {});
  }

  get regionCount(): number { return this.regions.length; }
  get mapped(): readonly MappedRegion[] { return this.regions; }

  /** Current guest memory, or null while no region is mapped. Rebuilt after each change. */
  get memory(): GuestMemory | null {
    if (this.cached === null && this.regions.length > 0) {
      this.cached = new GuestMemory(this.regions.map((r) => ({
        guestPhysAddr: r.guestPhysAddr, size: r.size, buffer: r.sab, offset: r.sabOffset, userAddr: r.userAddr,
      })));
    }
    return this.cached;
  }

  get regionFds(): RegionFd[] {
    return this.regions.map((r) => ({ fd: r.fd, size: r.size, offset: r.mmapOffset, guestPhysAddr: r.guestPhysAddr }));
  }

  /**
   * SET_MEM_TABLE: replace the whole table. Takes ownership of `fds` (one per region): on success
   * they belong to the table, on failure they are closed and the old table stays in force.
   */
  setTable(descs: readonly MemoryRegionDescription[], fds: readonly number[]): void {
    let fresh: MappedRegion[] = [];
    try {
      if (descs.length === 0) throw new VhostUserError('MEM_TABLE_EMPTY', 'SET_MEM_TABLE with 0 regions', { scope: 'none' });
      if (descs.length > this.maxSlots) throw new VhostUserError('MEM_TABLE_TOO_MANY', `${descs.length} regions > ${this.maxSlots}`, { scope: 'none' });
      if (fds.length !== descs.length) throw new VhostUserError(fds.length < descs.length ? 'MISSING_FD' : 'UNEXPECTED_FD', `${fds.length} fds for ${descs.length} regions`, { scope: 'none' });
      const parsed = descs.map((d) => this.check(d));
      this.checkOverlap(parsed);
      fresh = parsed.map((p, i) => this.map(p, fds[i]!));
    } catch (e) {
      for (const r of fresh) this.unmap(r, false);
      for (const fd of fds) this.safeClose(fd);
      throw e;
    }
    const old = this.regions;
    this.regions = fresh;
    this.cached = null;
    for (const r of old) this.unmap(r, true);
  }

  /** ADD_MEM_REG: takes ownership of fd (closed on failure). */
  addRegion(desc: MemoryRegionDescription, fd: number): void {
    let mapped: MappedRegion | null = null;
    try {
      if (this.regions.length >= this.maxSlots) throw new VhostUserError('MEM_TABLE_TOO_MANY', `all ${this.maxSlots} memory slots in use`, { scope: 'none' });
      const p = this.check(desc);
      this.checkOverlap([...this.regions, p]);
      mapped = this.map(p, fd);
    } catch (e) {
      this.safeClose(fd);
      throw e;
    }
    this.regions = [...this.regions, mapped];
    this.cached = null;
  }

  /** REM_MEM_REG: identified by guest address, user address and size (spec); mmap offset ignored. */
  removeRegion(desc: MemoryRegionDescription): void {
    const gpa = toNumber(desc.guestPhysAddr, 'guest address');
    const size = toNumber(desc.memorySize, 'size');
    const ua = toNumber(desc.userAddr, 'user address');
    const i = this.regions.findIndex((r) => r.guestPhysAddr === gpa && r.size === size && r.userAddr === ua);
    if (i < 0) throw new VhostUserError('REGION_NOT_FOUND', `no region gpa=0x${gpa.toString(16)} size=0x${size.toString(16)}`, { scope: 'none' });
    const [r] = this.regions.splice(i, 1);
    this.regions = [...this.regions];
    this.cached = null;
    this.unmap(r!, true);
  }

  /**
   * Front-end user address → guest-physical (SET_VRING_ADDR). The whole [uaddr, uaddr+len) must
   * lie in one region. Throws VRING_ADDR_UNMAPPED.
   */
  userToGuestPhys(uaddr: bigint, len: number): number {
    for (const r of this.regions) {
      const start = BigInt(r.userAddr);
      if (uaddr >= start && uaddr + BigInt(len) <= start + BigInt(r.size)) return r.guestPhysAddr + Number(uaddr - start);
    }
    throw new VhostUserError('VRING_ADDR_UNMAPPED', `user address 0x${uaddr.toString(16)} +${len} is inside no memory region`, { scope: 'none' });
  }

  /** Connection end: release every mapping and close every fd now. Idempotent. */
  release(): void {
    const old = this.regions;
    this.regions = [];
    this.cached = null;
    for (const r of old) this.unmap(r, true);
  }

  private check(d: MemoryRegionDescription): Omit<MappedRegion, 'fd' | 'sab' | 'sabOffset'> {
    const guestPhysAddr = toNumber(d.guestPhysAddr, 'guest address');
    const size = toNumber(d.memorySize, 'size');
    const userAddr = toNumber(d.userAddr, 'user address');
    const mmapOffset = toNumber(d.mmapOffset, 'mmap offset');
    if (size === 0) throw new VhostUserError('REGION_ZERO_SIZE', `region at gpa 0x${guestPhysAddr.toString(16)} has size 0`, { scope: 'none' });
    // Refused here, before anything is mapped or changes.
    if (size > this.maxRegionBytes) {
      throw new VhostUserError('REGION_TOO_LARGE', `region at gpa 0x${guestPhysAddr.toString(16)} is ${size} bytes; at most ${this.maxRegionBytes} are taken`, { scope: 'none' });
    }
    for (const [v, what] of [[guestPhysAddr + size, 'guest'], [userAddr + size, 'user'], [mmapOffset + size, 'mmap']] as const) {
      if (!Number.isSafeInteger(v)) throw new VhostUserError('ADDRESS_TOO_LARGE', `${what} range end beyond 2^53`, { scope: 'none' });
    }
    return { guestPhysAddr, size, userAddr, mmapOffset };
  }

  private checkOverlap(rs: readonly { guestPhysAddr: number; size: number; userAddr: number }[]): void {
    for (let i = 0; i < rs.length; i++) {
      for (let j = i + 1; j < rs.length; j++) {
        const a = rs[i]!; const b = rs[j]!;
        if (overlaps(a.guestPhysAddr, a.size, b.guestPhysAddr, b.size) || overlaps(a.userAddr, a.size, b.userAddr, b.size)) {
          throw new VhostUserError('REGION_OVERLAP', `regions gpa 0x${a.guestPhysAddr.toString(16)} and 0x${b.guestPhysAddr.toString(16)} overlap`, { scope: 'none' });
        }
      }
    }
  }

  private map(p: Omit<MappedRegion, 'fd' | 'sab' | 'sabOffset'>, fd: number): MappedRegion {
    let info: FdInfo;
    try {
      info = this.mapper.fdInfo(fd);
    } catch (cause) {
      throw new VhostUserError('BAD_FD_TYPE', `cannot inspect region fd ${fd}`, { scope: 'none', cause });
    }
    // A regular file/memfd, sealed against shrinking (a shrink under the mapping is SIGBUS), at
    // least mmapOffset + size long.
    checkMemoryFd(fd, p.mmapOffset + p.size, this.policy, `region at gpa 0x${p.guestPhysAddr.toString(16)}`, info);
    // mmap's offset must be page aligned (QEMU's is, but the spec doesn't promise it).
    const aligned = p.mmapOffset - (p.mmapOffset % PAGE_SIZE);
    const sabOffset = p.mmapOffset - aligned;
    let sab: SharedArrayBuffer;
    try {
      sab = this.mapper.mmapShared(fd, p.size + sabOffset, aligned);
    } catch (cause) {
      throw new VhostUserError('MMAP_FAILED', `mmap of region fd ${fd} failed`, { scope: 'none', cause });
    }
    return { ...p, fd, sab, sabOffset };
  }

  /**
   * releaseMapping is idempotent, so any throw is a real failure (e.g. the kernel refused the
   * anonymous replacement): the file stays mapped until the SAB is collected. Report it; the fd
   * is closed either way (the mapping holds its own reference to the file).
   */
  private unmap(r: MappedRegion, closeFd: boolean): void {
    try {
      this.mapper.releaseMapping(r.sab);
    } catch (cause) {
      this.onReleaseError(new VhostUserError('MAPPING_RELEASE_FAILED',
        `region at gpa 0x${r.guestPhysAddr.toString(16)} (${r.size} bytes) still mapped: ${(cause as Error)?.message ?? String(cause)}`, { scope: 'none', cause }));
    }
    if (closeFd) this.safeClose(r.fd);
  }

  private safeClose(fd: number): void {
    try { this.mapper.close(fd); } catch { /* EBADF: already closed; nothing to leak */ }
  }
}
