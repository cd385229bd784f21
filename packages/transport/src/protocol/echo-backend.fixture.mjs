// Child-process back-end for backend-restart.test.ts: serves the echo device on argv[2] from the
// built package (dist/), and with argv[3] = N kills itself with SIGKILL right after its N-th echoed
// chain — mid-batch, no GET_VRING_BASE, no teardown: a crashed daemon. argv[4]: the rxPool option.
// On SIGTERM it prints what it did (`stats {"echoed":…,"resubmitted":…}`) and exits cleanly.
// Plain JS because a child node process cannot load the .ts sources.
import { VhostUserBackend } from '../../dist/index.js';
import { EchoDevice } from '../../dist/testing.js';

const [socketPath, killAfterArg = '0', rxPoolArg = '0'] = process.argv.slice(2);
const killAfter = Number(killAfterArg);
const devices = [];
let total = 0;
const log = { info() {}, debug() {}, warn: (o, m) => console.error('W', m, JSON.stringify(o)), error: (o, m) => console.error('E', m, JSON.stringify(o)) };

function createDevice() {
  const d = new EchoDevice({
    rxPool: Number(rxPoolArg),
    onEcho: () => {
      total++;
      if (killAfter > 0 && total === killAfter) process.kill(process.pid, 'SIGKILL');
    },
  });
  devices.push(d);
  return d;
}

const backend = new VhostUserBackend({ socketPath, logger: log, createDevice });
backend.listen();
process.stdout.write('listening\n');
process.on('SIGTERM', () => {
  const sum = (k) => devices.reduce((a, d) => a + d[k], 0);
  process.stdout.write(`stats ${JSON.stringify({ echoed: sum('echoed'), resubmitted: sum('resubmitted') })}\n`);
  void backend.close().then(() => process.exit(0));
});
