// Device side of the cross-thread ring benchmark, in a worker_threads Worker.
// Work per chain (the same as device_main in benchmarks/native/split_ring_baseline.c,
// see benchmarks/ring/README.md):
// - popAvailableInto: avail.idx loaded once per poll (Atomics.load), distance
//   <= size checked; avail.ring slot read, head < size checked, descriptor
//   read once and addr/len checked to lie inside guest memory;
// - copy the payload into a 4 MiB sink (plain ArrayBuffer, like a port's
//   scrollback) at a rotating offset, so the destination is not cache-hot;
// - check first word == last word of the copied bytes, sum the first word;
// - addUsed, and publishUsed every `batch` chains and at the end of each poll.
// Waiting strategy: spin on avail.idx with Atomics.load (inside popAvailableInto).
import { parentPort, workerData } from 'node:worker_threads';
import { DeviceQueue, GuestMemory, RawChain } from '@vtcon/ring';

const { buffer, guestPhysAddr, config, payload, batch, chains, control } = workerData;
const memory = new GuestMemory([{ guestPhysAddr, size: buffer.byteLength, buffer }]);
const ctl = new Int32Array(control);
/** Device-side destination of the copies; rotates, larger than L2 (same as SINK_BYTES in the C baseline). */
const SINK_BYTES = 4 << 20;

parentPort.postMessage({ type: 'ready' });
// Wait for the start signal so thread start-up is not timed.
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 50);

// The loop lives in a function: module top-level code is optimized poorly
// (its variables are context slots), which made the first run ~20x slower.
function serve() {
  const dev = new DeviceQueue(memory, config);
  const chain = new RawChain();
  const sink = new Uint8Array(SINK_BYTES); // zero-filled: pages are touched before timing
  const sinkWords = new Int32Array(sink.buffer);
  const sink32 = new Uint32Array(sink.buffer);
  let pos = 0;
  let done = 0;
  let sum = 0;
  let spins = 0;
  while (done < chains) {
    let k = 0;
    while (dev.popAvailableInto(chain)) {
      if (pos + chain.readableBytes > SINK_BYTES) pos = 0;
      const n = chain.copyReadable(sink, pos, sinkWords);
      if (n < 4) throw new Error(`chain ${chain.head}: ${n} bytes`);
      const first = sink32[pos >>> 2];
      if (first !== sink32[(pos + n - 4) >>> 2]) throw new Error(`chain ${chain.head}: torn payload`);
      sum += first;
      pos += n;
      dev.addUsed(chain.head, 0);
      done++;
      if (++k === batch) {
        dev.publishUsed();
        k = 0;
      }
    }
    if (k !== 0) dev.publishUsed();
    else spins++;
  }
  dev.publishUsed();
  return { sum, spins };
}

const { sum, spins } = serve();
parentPort.postMessage({ type: 'done', sum, spins });
