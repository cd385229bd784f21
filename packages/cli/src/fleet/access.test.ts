// NATS does the authorization: a reader can list, read logs and watch, but NATS refuses its send,
// resize and break; an operator can send. Real nats-server with users and permissions, the
// permission sets of permissions.ts (the ones the README shows).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir, waitFor } from '../testing/binary.js';
import { fleetConfig, startFleetDaemon, startGuests, type FleetDaemon } from '../testing/fleet-daemon.js';
import { natsServer } from '../testing/nats.js';
import { clientSubscribe, daemonPermissions, operatorPublish, readerPublish, userEntry } from './permissions.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('fleet access through NATS permissions', () => {
  it('lets a read-only user (from the environment or a client config file) list and read logs but refuses its send, resize and break', async () => {
    const nats = await natsServer(`authorization {\n  users = [\n    ${[
      userEntry('h1', 'daemon-pw', daemonPermissions('h1')),
      userEntry('reader', 'reader-pw', { publish: readerPublish, subscribe: clientSubscribe }),
      userEntry('operator', 'operator-pw', { publish: operatorPublish, subscribe: clientSubscribe }),
    ].join('\n    ')}\n  ]\n}`);
    const dir = tempDir('vtcon-fleet-access-');
    const procs: { kill(s: NodeJS.Signals): unknown }[] = [];
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => nats.stop(), () => { for (const p of procs) p.kill('SIGKILL'); });
    const d: FleetDaemon = await startFleetDaemon(fleetConfig(dir, 'h1', nats.url, [{ name: 'vm1', ports: [{ name: 'console', console: true }] }], { user: 'h1', password: 'daemon-pw' }), dir);
    procs.push(d.child, await startGuests(dir, 'h1', ['vm1']));
    const as = (user: string, args: string[]) => runCli(['--nats', nats.url, ...args], { VTCON_NATS_USER: user, VTCON_NATS_PASSWORD: `${user}-pw` });

    await waitFor(() => as('reader', ['ls']).stdout.includes('vm1'), 'the reader to list h1');
    expect(as('operator', ['send', 'h1/vm1:console', 'hello-from-operator']).code).toBe(0);
    await waitFor(() => as('reader', ['logs', 'h1/vm1:console']).stdout.includes('hello-from-operator'), 'the reader to read the logs');
    expect(as('reader', ['who', 'h1/vm1:console']).code).toBe(0);
    for (const args of [['send', 'h1/vm1:console', 'x'], ['resize', 'h1/vm1:console', '100x30'], ['break', 'h1/vm1:console']]) {
      const r = as('reader', args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('not allowed');
    }
    expect(as('nobody', ['ls']).code).toBe(3);
    // The same reader from a client config file (`fleet.nats` with servers and auth), no --nats.
    const clientConfig = join(dir, 'client.yaml');
    writeFileSync(clientConfig, `fleet:\n  nats: { servers: "${nats.url}", auth: { user: reader, password: reader-pw } }\n`);
    const fromFile = (args: string[]) => runCli(args, { VTCON_CLIENT_CONFIG: clientConfig });
    expect(fromFile(['ls']).stdout).toContain('vm1');
    expect(fromFile(['logs', 'h1/vm1:console']).stdout).toContain('hello-from-operator');
    expect(fromFile(['send', 'h1/vm1:console', 'x']).stderr).toContain('not allowed');
  }, 60_000);
});
