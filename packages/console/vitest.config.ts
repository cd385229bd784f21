// Unit and integration tests; the foreign suite is vitest.foreign.config.ts.
import { unitConfig } from '../../scripts/lib/vitest-config.mjs';

export default unitConfig();
