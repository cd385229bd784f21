// The optional `fleet:` section: defaults, errors that point at the field, and names that
// become one subject token each.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { CliError } from '../errors.js';
import { outSubject, parseFleetTarget, token, untoken } from './names.js';

describe('fleet config', () => {
  it('is absent unless configured, and gets its defaults when it is', () => {
    expect(parseConfig('vms: []\n').fleet).toBeUndefined();
    const cfg = parseConfig('fleet:\n  nats: { servers: "nats://127.0.0.1:4222" }\n  host: hv1.example\n');
    expect(cfg.fleet).toMatchObject({ host: 'hv1.example', heartbeatSeconds: 5, stream: { name: 'VTCON_OUT', replicas: 1, maxBytes: 1 << 30, maxAgeSeconds: 30 * 86400 } });
  });

  it('points a bad value at its field', () => {
    try {
      parseConfig('fleet:\n  nats: { servers: [] }\n  host: "bad host"\n');
      throw new Error('expected a CONFIG_INVALID CliError');
    } catch (err) {
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).reason).toBe('CONFIG_INVALID');
      expect((err as CliError).problems.map((p) => p.field).sort()).toEqual(['fleet.host', 'fleet.nats.servers']);
    }
  });
});

describe('fleet names', () => {
  const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);
  it('maps every name to one subject token and back', () => {
    fc.assert(fc.property(name, name, name, (h, v, p) => {
      expect(untoken(token(v))).toBe(v);
      expect(outSubject(h, v, p).split('.')).toHaveLength(5);
      expect(parseFleetTarget(`${h}/${v}:${p}`)).toEqual({ host: h, vm: v, port: p });
    }));
  });
});
