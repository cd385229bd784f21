/**
 * @vtcon/ring — virtio 1.x split virtqueue (virtio 1.2 section 2.7) over
 * shared memory: the device half (DeviceQueue, which never trusts guest
 * memory) and the driver half (DriverQueue). Test fixtures live in the
 * separate subpath "@vtcon/ring/testing".
 */
export { VirtqueueError, isVirtqueueError, type VirtqueueErrorReason } from './errors.js';
export { GuestMemory, MemoryRegion, WINDOW_OVERLAP, WINDOW_STRIDE, type MemoryRegionInit } from './guest-memory.js';
export {
  splitQueueLayout,
  layOutQueue,
  isValidQueueSize,
  VIRTQ_MAX_SIZE,
  type SplitQueueLayout,
  type QueueAddresses,
  type QueueConfig,
} from './layout.js';
export {
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_RING_F_EVENT_IDX,
  vringNeedEvent,
} from './descriptor.js';
export { RawChain, type DescriptorChain } from './chain.js';
export { DeviceQueue, type DeviceQueueState } from './device-queue.js';
export { DriverQueue, NO_USED, type BufferSegment, type IndirectArea, type UsedBuffer } from './driver-queue.js';
