// A daemon's presence in the fleet: one NATS connection, a publisher per port with a log file,
// the inventory heartbeat and the control service. Started by Daemon when the config has
// `fleet:`; everything runs in the background so an unreachable NATS never delays or stops the
// daemon (the log keeps every byte; publishers catch up once NATS is back).
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Handlers } from '../control/server.js';
import type { Fleet } from '../daemon/fleet.js';
import { hostOf, type FleetConfig } from './config.js';
import { connectNats } from './connect.js';
import { serveControl } from './control-service.js';
import { createInventory, hostRecord, putHost } from './inventory.js';
import { ensureOutputStream } from './output-stream.js';
import { PortPublisher } from './publisher.js';

export interface FleetNodeOptions { config: FleetConfig; fleet: Fleet; handlers: Handlers; logger: Logger }

export class FleetNode {
  readonly host: string;
  private nc: NatsConnection | null = null;
  private kv: KV | null = null;
  private subs: Subscription[] = [];
  private readonly publishers = new Map<string, PortPublisher>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The heartbeat's last failure, logged once per run of failures (a beat is every few seconds). */
  private beatError: string | null = null;

  constructor(private readonly o: FleetNodeOptions) {
    this.host = hostOf(o.config);
    void this.start().catch((err: unknown) => {
      if (!this.stopped) o.logger.error({ err: (err as Error).message }, 'fleet: could not join; this daemon serves its VMs without the fleet');
    });
  }

  private async start(): Promise<void> {
    const { config, logger } = this.o;
    // waitOnFirstConnect: NATS may come up after the daemon; keep trying in the background.
    const nc = await connectNats(config.nats, `vtcon ${this.host}`, { waitOnFirstConnect: true });
    if (this.stopped) return void (await nc.close());
    this.nc = nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') logger.warn({ nats: s.type }, `fleet: NATS ${s.type}`);
      }
    })();
    const joined = await this.setUp(nc);
    if (!joined) return;
    const { jsm, kv } = joined;
    this.kv = kv;
    this.subs = serveControl(nc, this.host, this.o.handlers);
    const js = jetstream(nc);
    const beat = () => {
      this.syncPublishers((vm, port, logFile) => new PortPublisher({
        js, jsm, stream: config.stream.name, host: this.host, vm, port, logFile,
        maxPayload: () => nc.info?.max_payload,
        onWarn: (msg, detail) => logger.warn(detail, msg),
      }));
      void this.heartbeat('up');
    };
    beat();
    this.timer = setInterval(beat, config.heartbeatSeconds * 1000);
    logger.info({ host: this.host, stream: config.stream.name }, 'fleet: joined');
  }

  /**
   * The output stream and the inventory bucket, retried until JetStream answers: connected is not
   * enough (a cluster without a meta leader, e.g. while a majority of its nodes is still down,
   * refuses JetStream API calls). Null once stopped.
   */
  private async setUp(nc: NatsConnection): Promise<{ jsm: JetStreamManager; kv: KV } | null> {
    let backoff = 250;
    let lastError = '';
    while (!this.stopped) {
      try {
        const jsm = await ensureOutputStream(nc, this.o.config.stream);
        const kv = await createInventory(nc, this.o.config.stream.replicas);
        return this.stopped ? null : { jsm, kv };
      } catch (err) {
        const msg = (err as Error).message;
        if (msg !== lastError) this.o.logger.warn({ err: msg }, 'fleet: JetStream not available yet; retrying');
        lastError = msg;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    return null;
  }

  /** One publisher per port that has a log file; ports removed from the fleet stop theirs. */
  private syncPublishers(make: (vm: string, port: string, logFile: string) => PortPublisher): void {
    const seen = new Set<string>();
    for (const vm of this.o.fleet.list()) {
      for (const p of vm.ports) {
        if (!p.logFile) continue;
        const key = `${vm.name}\0${p.name}`;
        seen.add(key);
        if (!this.publishers.has(key)) this.publishers.set(key, make(vm.name, p.name, p.logFile));
      }
    }
    for (const [key, pub] of this.publishers) {
      if (!seen.has(key)) {
        this.publishers.delete(key);
        void pub.stop();
      }
    }
  }

  private async heartbeat(state: 'up' | 'stopped'): Promise<void> {
    if (!this.kv) return;
    const rec = hostRecord(this.host, this.o.config.heartbeatSeconds * 1000, this.o.fleet.list(),
      (vm, port) => this.publishers.get(`${vm}\0${port}`)?.stats().offset ?? 0, state);
    try {
      await putHost(this.kv, rec);
      if (this.beatError !== null) this.o.logger.info({ after: this.beatError }, 'fleet: heartbeat written again');
      this.beatError = null;
    } catch (err) {
      // Other hosts' `ls` will show this one down while this lasts: say so, once.
      if (this.beatError === null) this.o.logger.warn({ err: (err as Error).message }, 'fleet: heartbeat not written; other hosts will list this one down until it is');
      this.beatError = (err as Error).message;
    }
  }

  /** Stops publishing and serving; marks the host stopped in the inventory (best effort, bounded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.publishers.values()].map((p) => p.stop()));
    this.publishers.clear();
    for (const s of this.subs) s.unsubscribe();
    const nc = this.nc;
    if (!nc) return;
    await Promise.race([this.heartbeat('stopped'), new Promise((r) => setTimeout(r, 1000))]);
    await nc.drain().catch(() => nc.close());
  }
}
