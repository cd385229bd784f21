// The control experiment: with no attacker, every promise the rig checks holds. If this fails, the
// rig (or the machine) is the problem, not an attack.
import { it } from 'vitest';
import { rigPerTest, sleep, verdict } from './rig.js';

const rigs = rigPerTest();

it('with no attacker the daemon answers, the victim streams byte-exact, fds and RSS stay flat', async () => {
  const rig = await rigs.start();
  await sleep(1500);
  await verdict(rig, 'no attacker', []);
});
