// Worker-thread fixture for native-threads.test.ts. Plain JS because workers cannot load .ts;
// it loads the addon binary from the path native.ts computed (workerData.addonPath), which is
// what a worker importing dist/native.js does too.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const addon = createRequire(import.meta.url)(workerData.addonPath);
const { fd, mode } = workerData;

if (mode === 'watch-once') {
  // Fires on readability in this worker's own loop, consumes the counter, stops (twice: idempotent).
  const watch = new addon.FdWatch(fd, 1, (readable) => {
    const value = addon.eventfdRead(fd);
    watch.stop();
    watch.stop();
    parentPort.postMessage({ fired: true, readable, value });
  });
  parentPort.postMessage({ ready: true });
} else if (mode === 'leave-active') {
  // Never stopped: the addon's env cleanup hook must stop it when the worker is terminated.
  new addon.FdWatch(fd, 1, () => parentPort.postMessage({ fired: true, value: addon.eventfdRead(fd) }));
  parentPort.postMessage({ ready: true });
} else if (mode === 'throw') {
  // A throwing callback must surface as 'uncaughtException' on this thread, not crash it.
  process.on('uncaughtException', (e) => parentPort.postMessage({ uncaught: e.message }));
  const watch = new addon.FdWatch(fd, 1, () => {
    addon.eventfdRead(fd);
    watch.stop();
    throw new Error('boom from watch callback');
  });
  parentPort.postMessage({ ready: true });
}
