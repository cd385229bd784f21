// The parts of @vtcon/console and @vtcon/transport the daemon uses, stated structurally and
// loaded with a dynamic import: the CLI builds and its simulated fleet runs even where the
// device stack is not built (or its native addon cannot load), and this file is the one place
// that names what the CLI needs from the lower layers.
import type { Logger } from 'pino';

export interface PortStatsLike {
  id: number; name: string | null; console: boolean; guestOpen: boolean; guestReady: boolean;
  bytesIn: number; bytesOut: number; backlogBytes: number; refusedSends: number;
  error: string | null; size: { cols: number; rows: number } | null;
}

export interface PortSinkLike {
  write(chunk: Uint8Array, at: number): void;
  flush?(): Promise<void>;
  close(): Promise<void>;
}

export interface ConsoleDeviceLike {
  send(ref: number | string, data: Uint8Array): void;
  resize(ref: number | string, cols: number, rows: number): void;
  addPort(p: { name: string; console: boolean; sinks: PortSinkLike[] }): PortStatsLike;
  removePort(ref: number | string): Promise<PortStatsLike>;
  port(ref: number | string): PortStatsLike;
  stats(): { connected: boolean; ackedFeatures: string; ports: PortStatsLike[] };
  close(): Promise<void>;
  on(event: 'port-open', fn: (p: PortStatsLike, open: boolean) => void): unknown;
}

export interface ScrollbackLike extends PortSinkLike {
  lastLines(n: number): { bytes: Uint8Array };
  since(t: number): { bytes: Uint8Array };
  read(from: number): { bytes: Uint8Array };
  readonly startOffset: number;
}

export interface AttachServerLike extends PortSinkLike {
  readonly path: string;
  who(): { id: number; name: string; role: 'writer' | 'spectator'; protocol: string; since: number }[];
}

export interface ConsoleModule {
  ConsoleDevice: new (opts: {
    ports: { name: string; console: boolean; sinks: PortSinkLike[] }[];
    maxPorts?: number;
    resizeOrder?: 'cols-rows' | 'rows-cols';
    logger?: Logger;
    bindQueue?: unknown;
    engine?: unknown;
  }) => ConsoleDeviceLike;
  createConsoleDevice?: (opts: ConstructorParameters<ConsoleModule['ConsoleDevice']>[0]) => ConsoleDeviceLike;
  makeBindQueue?: (ops: unknown) => unknown;
  Scrollback: new (opts: { capacityBytes: number }) => ScrollbackLike;
  LogFileSink: { open(opts: { path: string; maxBytes?: number; keep?: number; timestamps?: boolean }): Promise<PortSinkLike & { path: string }> };
  AttachServer: {
    listen(opts: {
      path: string;
      onInput(bytes: Uint8Array): boolean | void;
      onResize?(size: { cols: number; rows: number }): void;
      scrollback?: ScrollbackLike;
    }): Promise<AttachServerLike>;
  };
  /** Piscina pool servicing port queues on worker threads. */
  ConsoleWorkerPool?: new (opts: { threads?: number; logger?: Logger }) => {
    createEngine(host: unknown): unknown;
    close(): Promise<void>;
    stats(): { shard: number; queues: number; restarts: number; alive: boolean }[];
  };
  VtconDriver: new (handle: unknown, opts?: object) => { attach(): Promise<void>; detach(): Promise<void> };
  SimulatedGuest: new (driver: unknown, opts?: { hostname?: string }) => unknown;
  FrontendHandle: new (connect: (onConfigChange: () => void) => unknown, ops: unknown, opts?: object) => unknown;
}

export interface TransportModule {
  VhostUserBackend: new (opts: { socketPath: string; createDevice: () => unknown; logger?: Logger }) => {
    listen(): void; close(): Promise<void>; readonly connected: boolean;
  };
  VhostUserFrontend: { connect(path: string, opts?: { onConfigChange?: () => void }): unknown };
  /** The addon's eventfd/poll calls, either as a `native` namespace or at the root. */
  native?: EventfdOps;
  eventfdRead?: EventfdOps['eventfdRead'];
  eventfdWrite?: EventfdOps['eventfdWrite'];
  watchFd?: EventfdOps['watchFd'];
}

export interface EventfdOps {
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): void;
  watchFd(fd: number, events: 'readable', cb: (r: boolean, w: boolean) => void): { stop(): void };
}

export interface Stack {
  console: ConsoleModule;
  transport: TransportModule;
  ops: EventfdOps;
}

const missing = (what: string) => new Error(`the device stack does not export ${what} yet`);

/** Loads the stack; throws (with what is missing) when it is not usable. */
export async function loadStack(): Promise<Stack> {
  const [consoleMod, transportMod] = await Promise.all([
    import('@vtcon/console') as Promise<unknown>,
    import('@vtcon/transport') as Promise<unknown>,
  ]);
  const c = consoleMod as Partial<ConsoleModule>;
  const t = transportMod as Partial<TransportModule>;
  for (const name of ['ConsoleDevice', 'Scrollback', 'LogFileSink', 'AttachServer'] as const) if (!c[name]) throw missing(`@vtcon/console ${name}`);
  if (!t.VhostUserBackend) throw missing('@vtcon/transport VhostUserBackend');
  const ops = t.native ?? (t.eventfdRead && t.eventfdWrite && t.watchFd ? { eventfdRead: t.eventfdRead, eventfdWrite: t.eventfdWrite, watchFd: t.watchFd } : null);
  if (!ops) throw missing('@vtcon/transport eventfd operations');
  return { console: c as ConsoleModule, transport: t as TransportModule, ops };
}
