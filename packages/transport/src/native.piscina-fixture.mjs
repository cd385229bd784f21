// piscina task for native-threads.test.ts: loads the addon in a pool thread (once per thread)
// and watches an eventfd with watchFd on that thread's loop.
//   mode 'await': the task stays pending until the fd fires, then adds the count to sab[0].
//   mode 'arm':   the task returns at once; the watch outlives it and, when it fires, writes
//                 the count to the `ack` eventfd. Needs a pool with atomics: 'async' or
//                 'disabled' (piscina's default 'sync' parks idle workers in Atomics.wait, so
//                 their event loop, and every watch on it, stops between tasks).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export default function task({ addonPath, fd, sab, ack, mode }) {
  const addon = require(addonPath);
  if (mode === 'arm') {
    const watch = new addon.FdWatch(fd, 1, () => {
      watch.stop();
      addon.eventfdWrite(ack, addon.eventfdRead(fd));
    });
    return 'armed';
  }
  return new Promise((resolve) => {
    const watch = new addon.FdWatch(fd, 1, () => {
      const value = addon.eventfdRead(fd);
      watch.stop();
      Atomics.add(new Int32Array(sab), 0, value);
      resolve(value);
    });
  });
}
