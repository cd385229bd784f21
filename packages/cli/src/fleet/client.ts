// The fleet CLI's side of NATS: the inventory, requests to a host's control service, and the
// output stream. Errors come back as the control API's ApiError (same exit codes as the local
// socket) or as CliError for what only the fleet has (permission denied, host not answering).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CliError, ExitCode } from '../cli/exit.js';
import { ApiError, type ErrorBody } from '../control/protocol.js';
import { connectionOptions, cliNatsConfig } from './connect.js';
import { hostStatus, readInventory, type HostRecord, type HostStatus } from './inventory.js';
import { ctlSubject, outSubject, type ControlOp } from './names.js';
import { readOutput, type OutputChunk, type ReadOptions } from './output-reader.js';

export const OUTPUT_STREAM = process.env.VTCON_NATS_STREAM ?? 'VTCON_OUT';

export interface ListedHost extends HostRecord { status: HostStatus }

function permissionDenied(err: unknown): boolean {
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'PermissionViolationError' || /permissions violation/i.test(String(e.message))) return true;
  }
  return false;
}

export class FleetClient {
  private constructor(readonly nc: NatsConnection, readonly url: string) {}

  static async connect(url: string): Promise<FleetClient> {
    try {
      const nc = await connect({ ...connectionOptions(cliNatsConfig(url), 'vtcon cli'), maxReconnectAttempts: 0, timeout: 5000 });
      return new FleetClient(nc, url);
    } catch (err) {
      throw new CliError(ExitCode.NO_DAEMON, `cannot reach NATS at ${url}: ${(err as Error).message}`, 'check --nats / $VTCON_NATS and the credentials in $VTCON_NATS_USER/$VTCON_NATS_PASSWORD (or _TOKEN, _CREDS, _NKEY)');
    }
  }

  async hosts(): Promise<ListedHost[]> {
    try {
      const now = Date.now();
      return (await readInventory(this.nc)).map((r) => ({ ...r, status: hostStatus(r, now) }));
    } catch (err) {
      if (permissionDenied(err)) throw new CliError(ExitCode.RUNTIME, `not allowed to read the fleet inventory: ${(err as Error).message}`);
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
      if (permissionDenied(err)) throw new CliError(ExitCode.RUNTIME, `not allowed: ${op} on host ${host} (NATS denied ${subject})`, 'ask for a NATS user with the operator permissions (see packages/cli/README.md, "Fleet")');
      const e = err as Error;
      if (e.name === 'NoRespondersError' || /no responders/i.test(e.message) || (e.cause as Error | undefined)?.name === 'NoRespondersError') {
        throw new CliError(ExitCode.NO_DAEMON, `host ${host} is not answering (no vtcon daemon serves ${subject})`, 'see which hosts are up with `vtcon --nats URL ls`; logs stay readable with `vtcon --nats URL logs`');
      }
      if (e.name === 'TimeoutError' || /timeout/i.test(e.message)) {
        throw new CliError(ExitCode.RUNTIME, `host ${host} did not answer ${op} within ${timeoutMs} ms; it may or may not have run`, 'check with `vtcon --nats URL ls` before retrying');
      }
      throw err;
    }
    if (reply.error) throw new ApiError(reply.error.code, `${host}: ${reply.error.message}`, reply.error.reason);
    return reply.result as T;
  }

  output(host: string, vm: string, port: string, o: ReadOptions = {}): AsyncGenerator<OutputChunk> {
    return readOutput(this.nc, OUTPUT_STREAM, outSubject(host, vm, port), o);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export async function withFleet<T>(url: string, fn: (f: FleetClient) => Promise<T>): Promise<T> {
  const f = await FleetClient.connect(url);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
