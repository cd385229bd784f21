// Device side of the cross-thread ring benchmark: runs in a worker_threads
// Worker, pops single-descriptor chains, copies each payload out, sums the
// sequence numbers, and publishes used entries every `batch` chains.
// Waiting strategy: spin on avail.idx with Atomics.load (inside popAvailableInto).
import { parentPort, workerData } from 'node:worker_threads';
import { DeviceQueue, GuestMemory, RawChain } from '@vtcon/ring';

const { buffer, guestPhysAddr, config, payload, batch, chains, control } = workerData;
const memory = new GuestMemory([{ guestPhysAddr, size: buffer.byteLength, buffer }]);
const ctl = new Int32Array(control);

parentPort.postMessage({ type: 'ready' });
// Wait for the start signal so thread start-up is not timed.
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 50);

// The loop lives in a function: module top-level code is optimized poorly
// (its variables are context slots), which made the first run ~20x slower.
function serve() {
  const dev = new DeviceQueue(memory, config);
  const chain = new RawChain();
  const dst = new Uint8Array(payload);
  const dst32 = new Uint32Array(dst.buffer);
  const dstWords = new Int32Array(dst.buffer);
  let done = 0;
  let sum = 0;
  let spins = 0;
  while (done < chains) {
    let k = 0;
    while (dev.popAvailableInto(chain)) {
      chain.copyReadable(dst, 0, dstWords);
      sum += dst32[0];
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
