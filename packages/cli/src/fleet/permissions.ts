// NATS permission sets for the fleet, as nats-server `authorization` user entries. The README
// shows them; access.test.ts runs them on a real nats-server. NATS does the authorization:
// vtcon only puts each control operation on its own subject so a user can be given some.
import { READ_OPS, WRITE_OPS } from './names.js';

const STREAM = 'VTCON_OUT';
const KV_STREAM = 'KV_vtcon-inventory';

/** What a reader needs: the inventory, the output stream (logs, attach output), read-only ops. */
export const readerPublish = [
  ...READ_OPS.map((op) => `vtcon.ctl.*.${op}`),
  '$JS.API.INFO',
  ...[STREAM, KV_STREAM].flatMap((s) => [
    `$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.MSG.GET.${s}`,
    `$JS.API.CONSUMER.CREATE.${s}`, `$JS.API.CONSUMER.CREATE.${s}.>`,
    `$JS.API.CONSUMER.INFO.${s}.*`, `$JS.API.CONSUMER.MSG.NEXT.${s}.*`, `$JS.API.CONSUMER.DELETE.${s}.*`,
  ]),
  '$JS.FC.>',
];

/** An operator also types: send, resize, break, port add/remove. */
export const operatorPublish = [...readerPublish, ...WRITE_OPS.map((op) => `vtcon.ctl.*.${op}`)];

/** A daemon publishes its own hosts's output and inventory entry and answers its own requests. */
export function daemonPermissions(hostToken: string): { publish: string[]; subscribe: string[] } {
  return {
    publish: [`vtcon.out.${hostToken}.>`, `$KV.vtcon-inventory.host.${hostToken}`, '$JS.API.>'],
    subscribe: [`vtcon.ctl.${hostToken}.>`, '_INBOX.>'],
  };
}

const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/** One nats-server `authorization.users` entry. */
export function userEntry(user: string, password: string, p: { publish: string[]; subscribe: string[] }): string {
  return `{ user: ${JSON.stringify(user)}, password: ${JSON.stringify(password)}, permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} }, allow_responses: true } }`;
}

export const clientSubscribe = ['_INBOX.>'];
