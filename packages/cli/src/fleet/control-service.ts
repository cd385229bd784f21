// The daemon's control API over NATS: vtcon.ctl.<host>.<op>, one subject per operation so NATS
// permissions can grant reads (ls, who, stats, logs) without writes (send, resize, break, port
// add/remove). Each request is forwarded to the same handler the local control socket runs, so
// the two APIs cannot drift; replies use the control protocol's {result} / {error} bodies.
//
// Input keeps its flow control: `send` replies with what the port accepted (and, with wait,
// whether the guest took it); a full backlog comes back as accepted < bytes, never dropped
// silently. The reply is sent only after the handler ran; a requester whose request timed out
// cannot know whether it ran, and the CLI says so instead of retrying on its own.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Handlers } from '../control/server.js';
import { CliError } from '../errors.js';
import { CONTROL_OPS, ctlSubject, type ControlOp } from './names.js';

/** NATS op token → local control API method. */
const METHOD: Record<ControlOp, string> = {
  ls: 'ls', who: 'who', stats: 'stats', logs: 'logs', 'port-info': 'attach.info',
  send: 'send', resize: 'resize', break: 'break', 'port-add': 'port.add', 'port-remove': 'port.remove',
};

/** Bigger requests are refused before parsing (a send's data is base64 in JSON). */
const MAX_REQUEST = 1024 * 1024;

export function serveControl(nc: NatsConnection, host: string, handlers: Handlers): Subscription[] {
  return CONTROL_OPS.map((op) => nc.subscribe(ctlSubject(host, op), {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      void (async () => {
        let body: unknown;
        try {
          if (msg.data.length > MAX_REQUEST) throw new CliError('BAD_REQUEST', `request larger than ${MAX_REQUEST} bytes`);
          const params = msg.data.length === 0 ? {} : JSON.parse(new TextDecoder().decode(msg.data)) as unknown;
          if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new CliError('BAD_REQUEST', 'params must be a JSON object');
          const fn = handlers.unary[METHOD[op]];
          if (!fn) throw new CliError('UNKNOWN_METHOD', `no method ${METHOD[op]}`);
          body = { result: await fn(params as Record<string, unknown>) };
        } catch (e) {
          body = { error: e instanceof SyntaxError ? { code: 'BAD_REQUEST', message: `bad JSON: ${e.message}` } : handlers.toError(e) };
        }
        msg.respond(JSON.stringify(body));
      })();
    },
  }));
}
