// Control API methods (documented in API.md) implemented against the Fleet seam. Validation of
// params happens here with zod so every method fails the same way (BAD_REQUEST, exit 2).
import { z } from 'zod';
import { isValidName, NAME_RULE } from '../config/names.js';
import { breakBytes, type Config } from '../config/schema.js';
import { API_VERSION, type ErrorBody } from '../control/protocol.js';
import { CliError } from '../errors.js';
import type { Handlers } from '../control/server.js';
import { type Fleet, type FleetStats } from './fleet.js';
import { DeliveryWaits } from './delivery-waits.js';
import { filterSince, lastLinesOf, MAX_HISTORY_REPLY, readLogTail } from './log-files.js';

export interface DaemonContext {
  fleet: Fleet;
  config(): Config;
  reload(): Promise<ReloadSummary>;
  startedAt: number;
}

export interface ReloadSummary {
  addedVms: string[];
  removedVms: string[];
  changedVms: string[];
  addedPorts: string[];
  removedPorts: string[];
  /** Steps that failed (the rest were applied): "addVm web2", with the reason and message. */
  failed: { step: string; reason: string; message: string }[];
}

const target = z.object({ vm: z.string().min(1), port: z.string().min(1) });

function parse<T extends z.ZodType>(schema: T, params: unknown): z.infer<T> {
  const r = schema.safeParse(params);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CliError('BAD_REQUEST', `params.${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof CliError) return { code: err.code, message: err.message, reason: err.reason };
  // Not ours (a bug, or a lower layer's error that escaped a mapping): keep its reason if it has one.
  const e = err as { reason?: unknown; message?: unknown };
  return { code: 'INTERNAL', message: String(e?.message ?? err), ...(typeof e?.reason === 'string' ? { reason: e.reason } : {}) };
}

function statsSnapshot(fleet: Fleet): FleetStats {
  return {
    at: new Date().toISOString(),
    workers: fleet.workers?.() ?? [],
    vms: fleet.list().map((vm) => ({
      name: vm.name,
      state: vm.state,
      ports: vm.ports.map((p) => ({ name: p.name, bytesIn: p.bytesIn, bytesOut: p.bytesOut, backlog: p.backlog, dropped: p.dropped, readers: p.readers })),
    })),
  };
}

export function makeHandlers(ctx: DaemonContext): Handlers {
  const { fleet } = ctx;
  const deliveries = new DeliveryWaits((vm, port) => fleet.port(vm, port).bytesOut);
  const vmConfig = (name: string) => {
    const vm = ctx.config().vms.find((v) => v.name === name);
    if (!vm) throw new CliError('VM_NOT_FOUND', `no VM named "${name}"`);
    return vm;
  };
  return {
    toError: toErrorBody,
    unary: {
      ping: () => ({ version: API_VERSION, pid: process.pid, uptimeMs: Date.now() - ctx.startedAt }),
      ls: () => ({ vms: fleet.list() }),
      send: async (p, ctx) => {
        const { vm, port, data, wait, timeoutMs } = parse(target.extend({
          data: z.base64(), wait: z.boolean().default(false), timeoutMs: z.number().int().min(0).max(3_600_000).default(10_000),
        }), p);
        const bytes = Buffer.from(data, 'base64');
        if (!wait) return { accepted: fleet.send(vm, port, bytes), bytes: bytes.length };
        // The backlog is FIFO: these bytes are in the guest once bytesOut passes what was written
        // plus what was queued before them plus them.
        const before = fleet.port(vm, port);
        const accepted = fleet.send(vm, port, bytes);
        const goal = before.bytesOut + before.backlog + accepted;
        const out = await deliveries.wait(vm, port, goal, timeoutMs, ctx?.signal);
        return { accepted, bytes: bytes.length, delivered: out >= goal, pending: Math.max(0, Math.min(accepted, goal - out)) };
      },
      break: (p) => {
        const { vm, port, key } = parse(target.extend({ key: z.string().length(1).optional() }), p);
        const bytes = breakBytes(vmConfig(vm).break, key);
        return { accepted: fleet.send(vm, port, bytes), sequence: Array.from(bytes) };
      },
      who: (p) => {
        const { vm, port } = parse(target, p);
        return { clients: fleet.who(vm, port) };
      },
      resize: (p) => {
        const { vm, port, cols, rows } = parse(target.extend({ cols: z.number().int().min(1).max(65535), rows: z.number().int().min(1).max(65535) }), p);
        fleet.resize(vm, port, cols, rows);
        return { cols, rows };
      },
      'port.add': async (p) => {
        const { vm, port, console } = parse(target.extend({ port: z.string().refine(isValidName, `must be ${NAME_RULE}`), console: z.boolean().default(false) }), p);
        return { port: await fleet.addPort(vm, { name: port, console }) };
      },
      'port.remove': async (p) => {
        const { vm, port } = parse(target, p);
        await fleet.removePort(vm, port);
        return { removed: port };
      },
      logs: async (p) => {
        const { vm, port, sinceMs, lines, files } = parse(target.extend({ sinceMs: z.number().optional(), lines: z.number().int().min(0).optional(), files: z.boolean().default(false) }), p);
        if (files) {
          const info = fleet.port(vm, port);
          if (!info.logFile) return { data: '', logFile: null };
          // Bounded: `omitted` bytes of older history are left out (the CLI then reads the files).
          const { tail, omitted } = await readLogTail(info.logFile, MAX_HISTORY_REPLY);
          let text = sinceMs === undefined ? tail : filterSince(tail, sinceMs);
          if (lines !== undefined) text = lastLinesOf(text, lines);
          return { data: text.toString('base64'), logFile: info.logFile, omitted };
        }
        const bytes = fleet.scrollback(vm, port, { ...(sinceMs !== undefined ? { sinceMs } : {}), ...(lines !== undefined ? { lastLines: lines } : {}) });
        return { data: Buffer.from(bytes).toString('base64'), logFile: fleet.port(vm, port).logFile };
      },
      'attach.info': (p) => {
        const { vm, port } = parse(target, p);
        const info = fleet.list().find((v) => v.name === vm);
        if (!info) throw new CliError('VM_NOT_FOUND', `no VM named "${vm}"`);
        const pi = info.ports.find((x) => x.name === port);
        if (!pi) throw new CliError('PORT_NOT_FOUND', `VM "${vm}" has no port "${port}"`);
        return { path: pi.attachPath, size: pi.size, state: info.state };
      },
      stats: () => statsSnapshot(fleet),
      reload: () => ctx.reload(),
    },
    stream: {
      'logs.follow': (p, sink) => {
        // History and subscription happen in one main-thread turn, so no byte is lost or
        // repeated between them.
        const { vm, port, sinceMs, lines } = parse(target.extend({ sinceMs: z.number().optional(), lines: z.number().int().min(0).optional() }), p);
        const history = fleet.scrollback(vm, port, { ...(sinceMs !== undefined ? { sinceMs } : {}), ...(lines !== undefined ? { lastLines: lines } : {}) });
        const off = fleet.subscribe(vm, port, (chunk) => sink.event('data', Buffer.from(chunk).toString('base64')));
        sink.onClose(off);
        return { data: Buffer.from(history).toString('base64') };
      },
      'stats.watch': (p, sink) => {
        const { intervalMs } = parse(z.object({ intervalMs: z.number().int().min(100).max(60_000).default(1000) }), p);
        const timer = setInterval(() => sink.event('stats', statsSnapshot(fleet)), intervalMs);
        sink.onClose(() => clearInterval(timer));
        return statsSnapshot(fleet);
      },
    },
  };
}
