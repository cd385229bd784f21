// Tests against programs vtcon did not write (`npm run test:foreign`).
import { foreignConfig } from '../../scripts/lib/vitest-config.mjs';

export default foreignConfig();
