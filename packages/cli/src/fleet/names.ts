// Subjects and keys. Names may contain '.', NATS's token separator, and never '=', so a token
// is the name with '.' written as '='; that keeps one name one token, and permissions can say
// `vtcon.ctl.*.ls` or `vtcon.out.web=1.>` without ambiguity.
export const OUT_PREFIX = 'vtcon.out';
export const CTL_PREFIX = 'vtcon.ctl';
export const INVENTORY_BUCKET = 'vtcon-inventory';

/** Control operations, one subject each so NATS permissions can allow or deny them one by one. */
export const READ_OPS = ['ls', 'who', 'stats', 'logs', 'port-info'] as const;
export const WRITE_OPS = ['send', 'resize', 'break', 'port-add', 'port-remove'] as const;
export type ControlOp = (typeof READ_OPS)[number] | (typeof WRITE_OPS)[number];
export const CONTROL_OPS: readonly ControlOp[] = [...READ_OPS, ...WRITE_OPS];

export const token = (name: string): string => name.replaceAll('.', '=');
export const untoken = (tok: string): string => tok.replaceAll('=', '.');

export const outSubject = (host: string, vm: string, port: string): string => `${OUT_PREFIX}.${token(host)}.${token(vm)}.${token(port)}`;
export const ctlSubject = (host: string, op: ControlOp): string => `${CTL_PREFIX}.${token(host)}.${op}`;
export const inventoryKey = (host: string): string => `host.${token(host)}`;

/** Nats-Msg-Id of the chunk that starts at `offset` of a port's log history. */
export const msgId = (host: string, vm: string, port: string, offset: number): string => `${host}/${vm}/${port}/${offset}`;

/** Headers each output message carries: where its bytes start, in the history and in a file. */
export const H_OFFSET = 'Vtcon-Offset';
export const H_INO = 'Vtcon-Ino';
export const H_POS = 'Vtcon-Pos';
export const H_TIME = 'Vtcon-Time';

/** host/vm[:port] as the fleet CLI takes it. */
export function parseFleetTarget(arg: string): { host: string; vm: string; port: string | undefined } | null {
  const m = /^((?!\.)[A-Za-z0-9._-]{1,64})\/([^:/\s]+)(?::([^:\s]+))?$/.exec(arg);
  return m ? { host: m[1]!, vm: m[2]!, port: m[3] } : null;
}
