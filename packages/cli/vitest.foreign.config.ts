import { foreignConfig } from '../../scripts/lib/vitest-config.mjs';

// The tests run the CLI with NO_COLOR=1; a FORCE_COLOR from the caller (nx sets it) would make
// every such child warn that NO_COLOR is ignored. Workers inherit this process's environment.
delete process.env.FORCE_COLOR;

// Tests against programs vtcon did not write (`npm run test:foreign`).
export default foreignConfig();
