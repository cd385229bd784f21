// Worker tests run the sources: under vitest the pool's piscina task is a bootstrap that loads
// service-task.ts through the repo's TypeScript hooks, not dist/ (stale in a watch run).
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { taskFilename } from './pool.js';

describe('ConsoleWorkerPool task under test', () => {
  it('is the source bootstrap, and a fresh worker thread gets service-task.ts from it', async () => {
    const file = taskFilename();
    expect(file).toBe(fileURLToPath(new URL('../test-support/service-task.mjs', import.meta.url)));
    const probe = `const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(pathToFileURL(file).href)}).then((m) => parentPort.postMessage(m.default.name));`;
    const worker = new Worker(probe, { eval: true });
    try {
      const [name] = (await once(worker, 'message')) as [string];
      expect(name).toBe('serviceShard');
    } finally {
      await worker.terminate();
    }
  });
});
