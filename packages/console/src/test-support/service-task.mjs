// ConsoleWorkerPool's piscina task when the pool runs from src/ (vitest): service-task.ts through
// the repo's TypeScript hooks (scripts/lib/ts-hooks.mjs), so worker tests run the sources, not a
// possibly stale dist/. Never in a build: the built pool finds dist/worker/service-task.js.
import { register } from 'node:module';

register('../../../../scripts/lib/ts-hooks.mjs', import.meta.url);
const task = await import('../worker/service-task.ts');
export default task.default;
