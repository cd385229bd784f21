// Reads one port's output back from the stream: what `vtcon logs host/vm:port` and `attach` show,
// available after the host is gone. An ordered consumer (ephemeral, flow-controlled by the
// client, recreated by the library after a gap) filtered on the port's subject.
import { DeliverPolicy, jetstream, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { H_OFFSET } from './names.js';

export interface OutputChunk { data: Uint8Array; offset: number; time: Date }

export interface ReadOptions {
  /** Only messages stored at or after this time. */
  sinceMs?: number;
  /** Start at the subject's newest message (attach's replay: the screen's last chunk). */
  fromLast?: boolean;
  /** Only what is stored after the call (attach without replay). */
  newOnly?: boolean;
  /** Keep yielding new output until signal aborts; else return once caught up. */
  follow?: boolean;
  signal?: AbortSignal;
}

export async function* readOutput(nc: NatsConnection, stream: string, subject: string, o: ReadOptions = {}): AsyncGenerator<OutputChunk> {
  const js = jetstream(nc);
  const opts: Partial<OrderedConsumerOptions> = { filter_subjects: [subject] };
  if (o.sinceMs !== undefined) Object.assign(opts, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(o.sinceMs).toISOString() });
  else if (o.newOnly) opts.deliver_policy = DeliverPolicy.New;
  else if (o.fromLast) opts.deliver_policy = DeliverPolicy.Last;
  const consumer = await js.consumers.get(stream, opts);
  if (!o.follow && (await consumer.info()).num_pending === 0) return;
  const msgs = await consumer.consume();
  const stop = () => msgs.stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const m of msgs) {
      yield { data: m.data, offset: Number(m.headers?.get(H_OFFSET) ?? NaN), time: new Date(m.info.timestampNanos / 1e6) };
      if (!o.follow && m.info.pending === 0) break;
    }
  } finally {
    o.signal?.removeEventListener('abort', stop);
    msgs.stop();
  }
}
