// The fleet client against whatever answers on a host's control subjects (a real nats-server, a
// responder that is not a vtcon daemon): a clear error and exit 1, never a crash of the CLI.
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { runCliAsync } from '../testing/binary.js';
import { natsServer } from '../testing/nats.js';
import { ctlSubject } from './names.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

describe('fleet client replies', () => {
  it('a reply that is not JSON, or JSON that is not a control reply, is a clear error (exit 1)', async () => {
    const nats = await natsServer();
    cleanups.push(() => nats.stop());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const replies: Record<string, string> = { hx: 'not json', hy: 'null', hz: '{"error":"boom"}' };
    for (const [host, body] of Object.entries(replies)) nc.subscribe(ctlSubject(host, 'send'), { callback: (_e, m) => { m.respond(body); } });
    await nc.flush();
    for (const [host, what] of [['hx', 'a reply that is not JSON'], ['hy', 'something that is not a control reply'], ['hz', 'something that is not a control reply']]) {
      const r = await runCliAsync(['--nats', nats.url, 'send', `${host}/vm1:console`, 'x']);
      expect({ host, code: r.code, stderr: r.stderr }).toEqual({ host, code: 1, stderr: expect.stringContaining(`host ${host} answered send with ${what}`) as string });
      expect(r.stderr, host).not.toMatch(/^\s+at /m);
    }
  });
});
