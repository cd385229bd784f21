/*
 * C baseline for the @vtcon/ring benchmark: the same virtio split-ring
 * protocol (virtio 1.2 section 2.7) between two pthreads with C11 atomics.
 *
 * Work per chain, identical in the JS benchmark (benchmarks/ring/README.md):
 * - Driver (main thread): picks payload buffer `sent % size` (one per
 *   descriptor, queue size 256), fills the WHOLE payload with the 32-bit
 *   sequence number (a real producer touches every byte it sends), writes
 *   the descriptor (addr, len, flags, next) and the avail.ring slot, and
 *   publishes avail.idx every `batch` chains (store-release). It collects
 *   used entries after each batch (load-acquire of used.idx).
 * - Device (second thread): loads avail.idx once per poll (acquire), checks
 *   the distance is <= size, and per chain reads the avail.ring slot, checks
 *   head < size, reads the descriptor once and checks addr/len lie inside
 *   guest memory (the same checks the JS device makes), then copies the
 *   payload into a 4 MiB sink buffer at a rotating offset (bigger than L2,
 *   like bytes appended to a port's scrollback: the copy's destination is
 *   not cache-hot), checks first word == last word of the copied bytes and
 *   sums the first word. It writes the used entry and publishes used.idx
 *   every `batch` chains and at the end of each poll (store-release).
 * Both sides spin (no futex / eventfd). Built -O2 (gcc may vectorize the
 * fill loop and memcpy is glibc's), i.e. an honest, not crippled, C ring.
 *
 * Usage: split_ring_baseline <payload_bytes> <batch> <chains> [queue_size]
 * Prints one JSON object: {"chains":N,"ns":T,"checksum":S,"ok":true|false}
 *
 * Build: gcc -O2 -pthread -o bin/split_ring_baseline split_ring_baseline.c
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#define F_NEXT 1u
#define SINK_BYTES (4u << 20) /* device-side destination, rotates; > L2 */
#define F_WRITE 2u

struct desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; };

struct ring {
  unsigned size;
  struct desc *desc;
  _Atomic uint16_t *avail_idx;
  uint16_t *avail_ring;
  _Atomic uint16_t *used_idx;
  uint32_t *used_elems; /* id, len pairs */
  uint8_t *mem;         /* "guest memory": payload buffers, addr = offset */
  size_t mem_size;
  unsigned payload, batch;
  uint64_t chains;
  uint64_t device_sum;
  int device_error;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *device_main(void *arg) {
  struct ring *r = arg;
  unsigned mask = r->size - 1;
  uint16_t last_avail = 0, used = 0;
  uint8_t *sink = aligned_alloc(64, SINK_BYTES);
  memset(sink, 0, SINK_BYTES); /* fault the pages in before the clock matters */
  size_t sink_pos = 0;
  uint64_t done = 0, sum = 0;
  while (done < r->chains) {
    uint16_t avail = atomic_load_explicit(r->avail_idx, memory_order_acquire);
    uint16_t n = (uint16_t)(avail - last_avail);
    if (n == 0) continue; /* spin */
    if (n > r->size) { r->device_error = 1; break; }
    unsigned k = 0;
    while (n--) {
      uint16_t head = r->avail_ring[last_avail & mask];
      last_avail++;
      if (head >= r->size) { r->device_error = 2; goto out; }
      struct desc d = r->desc[head];
      if (d.addr > r->mem_size || d.len > r->mem_size - d.addr) { r->device_error = 3; goto out; }
      if (d.len < 4) { r->device_error = 4; goto out; }
      if (sink_pos + d.len > SINK_BYTES) sink_pos = 0;
      uint8_t *dst = sink + sink_pos;
      memcpy(dst, r->mem + d.addr, d.len);
      uint32_t first, last;
      memcpy(&first, dst, 4);
      memcpy(&last, dst + d.len - 4, 4);
      if (first != last) { r->device_error = 5; goto out; }
      sum += first;
      sink_pos += d.len;
      r->used_elems[2 * (used & mask)] = head;
      r->used_elems[2 * (used & mask) + 1] = 0;
      used++;
      done++;
      if (++k == r->batch) { atomic_store_explicit(r->used_idx, used, memory_order_release); k = 0; }
    }
    atomic_store_explicit(r->used_idx, used, memory_order_release);
  }
out:
  atomic_store_explicit(r->used_idx, used, memory_order_release);
  r->device_sum = sum;
  free(sink);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s payload batch chains [size]\n", argv[0]); return 2; }
  struct ring r = {0};
  r.payload = (unsigned)atoi(argv[1]);
  r.batch = (unsigned)atoi(argv[2]);
  r.chains = strtoull(argv[3], NULL, 10);
  r.size = argc > 4 ? (unsigned)atoi(argv[4]) : 256;
  if (r.payload < 4 || r.payload % 4 != 0 || r.payload > SINK_BYTES || r.batch == 0 || r.size == 0 || (r.size & (r.size - 1)) != 0) {
    fprintf(stderr, "payload must be a multiple of 4 in [4, %u], batch > 0, size a power of two\n", SINK_BYTES);
    return 2;
  }
  unsigned mask = r.size - 1;
  r.desc = aligned_alloc(64, sizeof(struct desc) * r.size);
  /* avail and used on separate cache lines, as the JS layout does */
  uint8_t *avail = aligned_alloc(64, 64 + 2 * r.size + 64);
  uint8_t *usedp = aligned_alloc(64, 64 + 8 * r.size + 64);
  memset(avail, 0, 64 + 2 * r.size + 64);
  memset(usedp, 0, 64 + 8 * r.size + 64);
  r.avail_idx = (_Atomic uint16_t *)(avail + 2);
  r.avail_ring = (uint16_t *)(avail + 4);
  r.used_idx = (_Atomic uint16_t *)(usedp + 2);
  r.used_elems = (uint32_t *)(usedp + 4);
  r.mem_size = (size_t)r.payload * r.size;
  r.mem = aligned_alloc(64, r.mem_size);
  memset(r.mem, 0, r.mem_size);

  pthread_t t;
  uint64_t t0 = now_ns();
  pthread_create(&t, NULL, device_main, &r);
  uint64_t sent = 0, completed = 0;
  uint16_t avail_idx = 0, last_used = 0, used_cache = 0;
  unsigned num_free = r.size;
  while (completed < r.chains) {
    unsigned k = 0;
    while (k < r.batch && sent < r.chains && num_free > 0) {
      unsigned slot = (unsigned)(sent & mask);
      uint32_t seq = (uint32_t)sent;
      uint32_t *p = (uint32_t *)(r.mem + (size_t)slot * r.payload);
      for (unsigned w = 0; w < r.payload / 4; w++) p[w] = seq;
      r.desc[slot].addr = (uint64_t)slot * r.payload;
      r.desc[slot].len = r.payload;
      r.desc[slot].flags = 0;
      r.desc[slot].next = 0;
      r.avail_ring[avail_idx & mask] = (uint16_t)slot;
      avail_idx++;
      num_free--;
      sent++;
      k++;
    }
    if (k) atomic_store_explicit(r.avail_idx, avail_idx, memory_order_release);
    if (used_cache == last_used) used_cache = atomic_load_explicit(r.used_idx, memory_order_acquire);
    while (last_used != used_cache) {
      (void)r.used_elems[2 * (last_used & mask)];
      last_used++;
      num_free++;
      completed++;
    }
    if (r.device_error) break;
  }
  pthread_join(t, NULL);
  uint64_t t1 = now_ns();
  uint64_t expect = r.chains * (r.chains - 1) / 2;
  printf("{\"chains\":%llu,\"ns\":%llu,\"checksum\":%llu,\"ok\":%s}\n", (unsigned long long)r.chains,
         (unsigned long long)(t1 - t0), (unsigned long long)r.device_sum,
         (!r.device_error && r.device_sum == expect) ? "true" : "false");
  return r.device_error ? 1 : 0;
}
