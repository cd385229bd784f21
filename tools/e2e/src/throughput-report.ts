// The real-guest throughput comparison as data: its settings (environment), the cases, medians,
// the side-by-side table and the benchmark run record (benchmarks/lib/schema.mjs, suite
// 'real-guest'). Pure: no I/O, so it is unit-tested; throughput.measure.ts measures.

export const MiB = 1024 * 1024;

export interface ThroughputSettings {
  /** guest→host bytes per hvc0 case, MiB (VTCON_TP_HVC_MIB, default 16) */
  hvcMiB: number;
  /** guest→host bytes per named-port case, MiB (VTCON_TP_PORT_MIB, default 64) */
  portMiB: number;
  /** host→guest bytes per case, MiB (VTCON_TP_H2G_MIB, default 16) */
  h2gMiB: number;
  /** interleaved rounds; the table shows medians (VTCON_TP_ROUNDS, default 3) */
  rounds: number;
  /** only cases whose id contains one of these (VTCON_TP_CASES=a,b; default every case) */
  only: string[];
  /** where the run record goes (VTCON_TP_OUT; default benchmarks/results; "-" = none) */
  out: string | null;
}

function positive(env: Record<string, string | undefined>, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${key}=${raw}: a positive integer`);
  return n;
}

/** Settings from the environment; VTCON_TP_MIB (the old knob) sets every size at once. */
export function throughputSettings(env: Record<string, string | undefined>, defaultOut: string): ThroughputSettings {
  const all = positive(env, 'VTCON_TP_MIB', 0);
  const out = env.VTCON_TP_OUT ?? defaultOut;
  return {
    hvcMiB: positive(env, 'VTCON_TP_HVC_MIB', all || 16),
    portMiB: positive(env, 'VTCON_TP_PORT_MIB', all || 64),
    h2gMiB: positive(env, 'VTCON_TP_H2G_MIB', all || 16),
    rounds: positive(env, 'VTCON_TP_ROUNDS', 3),
    only: (env.VTCON_TP_CASES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    out: out === '-' ? null : out,
  };
}

/** none; a raw client of the attach socket (QEMU: the chardev socket); `vtcon attach --read-only` (vtcon only). */
export type Reader = 'none' | 'raw' | 'ro';
export type Path = 'attach' | 'send';

export type ThroughputCase =
  | { id: string; dir: 'g2h'; port: 'hvc0' | 'named'; bs: '2048' | '64k'; reader: Reader; mib: number }
  | { id: string; dir: 'h2g'; path: Path; mib: number };

/** Every case of a full run, in run order (each round runs them all, vtcon and QEMU interleaved). */
export function throughputCases(s: ThroughputSettings): ThroughputCase[] {
  const cases: ThroughputCase[] = [];
  for (const [port, bs, mib] of [['hvc0', '2048', s.hvcMiB], ['hvc0', '64k', s.hvcMiB], ['named', '64k', s.portMiB]] as const) {
    for (const reader of ['none', 'raw', 'ro'] as const) cases.push({ id: `g2h-${port}-${bs}-${reader}`, dir: 'g2h', port, bs, reader, mib });
  }
  for (const path of ['attach', 'send'] as const) cases.push({ id: `h2g-${path}`, dir: 'h2g', path, mib: s.h2gMiB });
  return s.only.length === 0 ? cases : cases.filter((c) => s.only.some((o) => c.id.includes(o)));
}

export function describeCase(c: ThroughputCase): string {
  if (c.dir === 'h2g') return `host→guest ${c.mib} MiB via ${c.path === 'attach' ? 'attach socket' : 'send API'}`;
  const reader = { none: '0 readers', raw: '1 raw reader', ro: 'vtcon attach --read-only' }[c.reader];
  return `${c.port === 'hvc0' ? 'hvc0' : 'named port'} dd bs=${c.bs} ${c.mib} MiB, ${reader}`;
}

/** One measurement of one case on one device. */
export interface Sample {
  /** bytes / seconds (guest-timed for guest→host, host-timed for host→guest) */
  bytesPerSec: number;
  /** vtcon only: daemon CPU seconds per MiB (all threads, and the main thread alone) */
  cpuPerMiB?: number;
  mainCpuPerMiB?: number;
  /** reader bytes equal the guest's (sha256), or null when there is no reader */
  exact: boolean | null;
  /** what went wrong with the bytes, if anything */
  note?: string;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface CaseSummary {
  c: ThroughputCase;
  vtcon: Sample[];
  qemu: Sample[];
}

const mbps = (bps: number): string => (Number.isFinite(bps) ? (bps / 1e6).toFixed(1) : '-');
const exactOf = (ss: readonly Sample[]): string => {
  const checked = ss.filter((s) => s.exact !== null);
  if (checked.length === 0) return '';
  return `${checked.filter((s) => s.exact).length}/${checked.length} exact`;
};

/** The side-by-side table: medians, the ratio, min–max and the daemon's CPU per MiB. */
export function formatTable(rows: readonly CaseSummary[]): string {
  const head = ['case', 'vtcon MB/s', '(min–max)', 'QEMU MB/s', '(min–max)', 'ratio', 'CPU s/MiB', '(main)', 'vtcon bytes', 'QEMU bytes'];
  const lines: string[][] = [head];
  for (const r of rows) {
    const v = r.vtcon.map((s) => s.bytesPerSec);
    const q = r.qemu.map((s) => s.bytesPerSec);
    const cpu = r.vtcon.flatMap((s) => (s.cpuPerMiB !== undefined ? [s.cpuPerMiB] : []));
    const main = r.vtcon.flatMap((s) => (s.mainCpuPerMiB !== undefined ? [s.mainCpuPerMiB] : []));
    lines.push([
      describeCase(r.c), mbps(median(v)), `${mbps(Math.min(...v))}–${mbps(Math.max(...v))}`,
      mbps(median(q)), `${mbps(Math.min(...q))}–${mbps(Math.max(...q))}`,
      q.length > 0 && v.length > 0 ? `${(median(v) / median(q)).toFixed(2)}×` : '-',
      cpu.length > 0 ? median(cpu).toFixed(4) : '-', main.length > 0 ? median(main).toFixed(4) : '-',
      exactOf(r.vtcon), exactOf(r.qemu),
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A CaseResult of benchmarks/lib/schema.mjs (suite 'real-guest'). */
export interface RealGuestCase {
  suite: 'real-guest';
  name: string;
  params: Record<string, string | number | boolean>;
  bytesPerSec?: number;
  samples?: number;
  baseline?: { name: string; opsPerSec: number };
  ratio?: number;
  value?: number;
  unit?: string;
}

export const QEMU_BASELINE = 'QEMU virtio-serial in-process (bytes/s)';

/** The run's cases: throughput against QEMU's in the same run, and the daemon's CPU per MiB. */
export function realGuestCases(rows: readonly CaseSummary[]): RealGuestCase[] {
  const out: RealGuestCase[] = [];
  for (const r of rows) {
    const c = r.c;
    const params: Record<string, string | number | boolean> = c.dir === 'g2h'
      ? { realGuest: true, dir: 'guest→host', port: c.port, bs: c.bs, readers: c.reader === 'none' ? 0 : 1, reader: c.reader, mib: c.mib }
      : { realGuest: true, dir: 'host→guest', path: c.path, mib: c.mib };
    const name = `qemu-guest ${describeCase(c)}`;
    const v = median(r.vtcon.map((s) => s.bytesPerSec));
    const q = median(r.qemu.map((s) => s.bytesPerSec));
    if (!Number.isFinite(v)) continue;
    const tp: RealGuestCase = { suite: 'real-guest', name, params, bytesPerSec: Math.round(v), samples: r.vtcon.length };
    if (Number.isFinite(q) && q > 0) { tp.baseline = { name: QEMU_BASELINE, opsPerSec: Math.round(q) }; tp.ratio = v / q; }
    out.push(tp);
    const cpu = r.vtcon.flatMap((s) => (s.cpuPerMiB !== undefined ? [s.cpuPerMiB] : []));
    if (cpu.length > 0) out.push({ suite: 'real-guest', name: `${name} daemon CPU`, params, value: median(cpu), unit: 's/MiB', samples: cpu.length });
  }
  return out;
}
