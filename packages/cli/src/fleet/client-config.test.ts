// Where the fleet CLI finds NATS: --nats, $VTCON_NATS, then `fleet.nats` in the client config
// file (unless a local socket is asked for); credentials from the environment win.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/binary.js';
import { CliError } from '../errors.js';
import { fleetNats } from './route.js';

describe('fleet client config', () => {
  const dir = tempDir('vtcon-client-config-');
  const file = join(dir, 'client.yaml');
  writeFileSync(file, 'fleet:\n  nats:\n    servers: [nats://a:4222, nats://b:4222]\n    auth: { user: reader, password: pw }\n');
  const env = { VTCON_CLIENT_CONFIG: file };

  it('takes servers and auth from fleet.nats in the file', async () => {
    expect(await fleetNats({}, env)).toEqual({
      nats: { servers: ['nats://a:4222', 'nats://b:4222'], auth: { user: 'reader', password: 'pw' } },
      label: `nats://a:4222,nats://b:4222 (from ${file})`,
    });
  });

  it('yields to --nats and $VTCON_NATS, and to a local socket asked for', async () => {
    expect((await fleetNats({ nats: 'nats://c:1' }, env))?.nats).toEqual({ servers: ['nats://c:1'] });
    expect((await fleetNats({}, { ...env, VTCON_NATS: 'nats://d:1,nats://e:1' }))?.nats).toEqual({ servers: ['nats://d:1', 'nats://e:1'] });
    expect(await fleetNats({ socket: '/run/vtcon.sock' }, env)).toBeUndefined();
    expect(await fleetNats({}, { ...env, VTCON_SOCKET: '/run/vtcon.sock' })).toBeUndefined();
    expect(await fleetNats({}, { VTCON_CLIENT_CONFIG: join(dir, 'absent.yaml') })).toBeUndefined();
  });

  it('lets credentials in the environment override the file', async () => {
    expect((await fleetNats({}, { ...env, VTCON_NATS_TOKEN: 't0k' }))?.nats.auth).toEqual({ token: 't0k' });
  });

  it('reads a daemon config (other sections ignored) and points a bad field at its line', async () => {
    const daemonCfg = join(dir, 'daemon.yaml');
    writeFileSync(daemonCfg, 'daemon: { logLevel: info }\nvms: []\nfleet:\n  host: hv1\n  nats: { servers: "nats://f:4222" }\n');
    expect((await fleetNats({}, { VTCON_CLIENT_CONFIG: daemonCfg }))?.nats.servers).toBe('nats://f:4222');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'fleet:\n  nats:\n    servers: []\n');
    const err = await fleetNats({}, { VTCON_CLIENT_CONFIG: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(/bad\.yaml:3:\d+: fleet\.nats\.servers/);
  });
});
