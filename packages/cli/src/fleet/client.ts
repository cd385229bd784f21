// The fleet CLI's side of NATS: the inventory, requests to a host's control service, and the
// output stream. Every failure is a CliError: a host's error reply keeps its wire reason (same
// exit codes as the local socket); NATS itself unreachable or a host not answering is UNAVAILABLE
// (exit 3), a permission NATS refused is NOT_ALLOWED (exit 1).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ErrorBody } from '../control/protocol.js';
import { CliError } from '../errors.js';
import type { FleetNats } from './cli-nats.js';
import { connectionOptions } from './connect.js';
import { hostStatus, readInventory, type HostRecord, type HostStatus, type IgnoredEntry } from './inventory.js';
import { ctlSubject, outSubject, type ControlOp } from './names.js';
import { readOutput, type OutputChunk, type ReadOptions } from './output-reader.js';

export const OUTPUT_STREAM = process.env.VTCON_NATS_STREAM ?? 'VTCON_OUT';

const READER_HINT = 'ask for a NATS user with at least the reader permissions (see packages/cli/README.md, "Fleet")';

export interface ListedHost extends HostRecord { status: HostStatus }

function permissionDenied(err: unknown): boolean {
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'PermissionViolationError' || /permissions violation/i.test(String(e.message))) return true;
  }
  return false;
}

export class FleetClient {
  private constructor(readonly nc: NatsConnection, readonly url: string) {}

  static async connect(to: FleetNats): Promise<FleetClient> {
    try {
      const nc = await connect({ ...connectionOptions(to.nats, 'vtcon cli'), maxReconnectAttempts: 0, timeout: 5000 });
      return new FleetClient(nc, to.label);
    } catch (err) {
      throw new CliError('UNAVAILABLE', `cannot reach NATS at ${to.label}: ${(err as Error).message}`, { cause: err, hint: 'check --nats / $VTCON_NATS / fleet.nats in the client config, and the credentials in $VTCON_NATS_USER/$VTCON_NATS_PASSWORD (or _TOKEN, _CREDS, _NKEY)' });
    }
  }

  /** Inventory entries the last hosts() left out (malformed or under another host's key). */
  ignored: IgnoredEntry[] = [];

  async hosts(): Promise<ListedHost[]> {
    try {
      const now = Date.now();
      const ignored: IgnoredEntry[] = [];
      const hosts = (await readInventory(this.nc, (e) => ignored.push(e))).map((r) => ({ ...r, status: hostStatus(r, now) }));
      this.ignored = ignored;
      return hosts;
    } catch (err) {
      if (permissionDenied(err)) throw new CliError('NOT_ALLOWED', `not allowed to read the fleet inventory: ${(err as Error).message}`, { cause: err, hint: READER_HINT });
      if (/stream not found|bucket not found/i.test(String((err as Error).message))) return [];
      throw err;
    }
  }

  /** One request to a host's control service; the reply body of the local control API. */
  async call<T>(host: string, op: ControlOp, params: Record<string, unknown>, timeoutMs = 5000): Promise<T> {
    const subject = ctlSubject(host, op);
    let reply: { result?: T; error?: ErrorBody };
    try {
      const m = await this.nc.request(subject, JSON.stringify(params), { timeout: timeoutMs });
      reply = m.json();
    } catch (err) {
      if (err instanceof SyntaxError) throw new CliError('RUNTIME', `host ${host} answered ${op} with a reply that is not JSON`, { cause: err, hint: 'is something other than a vtcon daemon answering on ' + subject + '?' });
      if (permissionDenied(err)) throw new CliError('NOT_ALLOWED', `not allowed: ${op} on host ${host} (NATS denied ${subject})`, { cause: err, hint: 'ask for a NATS user with the operator permissions (see packages/cli/README.md, "Fleet")' });
      const e = err as Error;
      if (e.name === 'NoRespondersError' || /no responders/i.test(e.message) || (e.cause as Error | undefined)?.name === 'NoRespondersError') {
        throw new CliError('UNAVAILABLE', `host ${host} is not answering (no vtcon daemon serves ${subject})`, { cause: err, hint: 'see which hosts are up with `vtcon --nats URL ls`; logs stay readable with `vtcon --nats URL logs`' });
      }
      if (e.name === 'TimeoutError' || /timeout/i.test(e.message)) {
        throw new CliError('RUNTIME', `host ${host} did not answer ${op} within ${timeoutMs} ms; it may or may not have run`, { cause: err, hint: 'check with `vtcon --nats URL ls` before retrying' });
      }
      throw err;
    }
    if (!isReply(reply)) throw new CliError('RUNTIME', `host ${host} answered ${op} with something that is not a control reply`, { hint: 'is something other than a vtcon daemon answering on ' + subject + '?' });
    if (reply.error) throw CliError.fromWire({ ...reply.error, message: `${host}: ${String(reply.error.message)}` });
    return reply.result as T;
  }

  output(host: string, vm: string, port: string, o: ReadOptions = {}): AsyncGenerator<OutputChunk> {
    return readOutput(this.nc, OUTPUT_STREAM, outSubject(host, vm, port), o);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** A control reply: {result} or {error: {code, message}} (control/protocol.ts). */
function isReply(r: unknown): r is { result?: unknown; error?: ErrorBody } {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
  const e = (r as { error?: unknown }).error;
  return e === undefined || (typeof e === 'object' && e !== null && typeof (e as ErrorBody).code === 'string');
}

export async function withFleet<T>(to: FleetNats, fn: (f: FleetClient) => Promise<T>): Promise<T> {
  const f = await FleetClient.connect(to);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
