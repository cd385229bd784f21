// The one JetStream stream that holds every port's output (subjects vtcon.out.<host>.<vm>.<port>),
// and the resume point of one subject: the stream itself is the publisher's durable state.
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OutputStreamConfig } from './config.js';
import type { LogPosition } from './log-cursor.js';
import { H_INO, H_OFFSET, H_POS, OUT_PREFIX } from './names.js';

const NS_PER_S = 1_000_000_000;

/** Creates the stream, or updates its limits to the config's (both idempotent). */
export async function ensureOutputStream(nc: NatsConnection, cfg: OutputStreamConfig): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const limits = {
    max_bytes: cfg.maxBytes,
    max_age: cfg.maxAgeSeconds * NS_PER_S,
    num_replicas: cfg.replicas,
  };
  const info = await jsm.streams.info(cfg.name).catch(() => null);
  if (info) {
    const c = info.config;
    if (c.max_bytes !== limits.max_bytes || c.max_age !== limits.max_age || c.num_replicas !== limits.num_replicas) {
      await jsm.streams.update(cfg.name, { ...c, ...limits });
    }
    return jsm;
  }
  await jsm.streams.add({
    name: cfg.name,
    subjects: [`${OUT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // Retries after a lost ack carry the same Nats-Msg-Id; two minutes covers reconnects.
    duplicate_window: 120 * NS_PER_S,
    ...limits,
  });
  return jsm;
}

/** Where a subject's bytes end: the next history offset, the log position after it, the stream seq. */
export interface ResumePoint { offset: number; next: LogPosition | null; seq: number }

export async function resumePoint(jsm: JetStreamManager, stream: string, subject: string): Promise<ResumePoint> {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (!m) return { offset: 0, next: null, seq: 0 };
  const offset = Number(m.header.get(H_OFFSET));
  const ino = Number(m.header.get(H_INO));
  const pos = Number(m.header.get(H_POS));
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(ino) || !Number.isSafeInteger(pos)) {
    throw new Error(`${stream} seq ${m.seq} on ${subject} lacks vtcon offset headers`);
  }
  return { offset: offset + m.data.length, next: { ino, pos: pos + m.data.length }, seq: m.seq };
}
