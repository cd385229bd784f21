// The one rule for VM and port names, used by the config schema, the control API and the fleet
// before it creates anything: a name becomes a path component (attach socket, log directory and
// file), so it is 1-64 characters of A-Z a-z 0-9 . _ - and does not start with a dot (no "..",
// no hidden files, no "/", no control bytes).
export const NAME_RULE = '1-64 characters of A-Z a-z 0-9 . _ - not starting with a dot';

const NAME_RE = /^(?!\.)[A-Za-z0-9._-]{1,64}$/;

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name);
}

/** Why `name` is refused, or null when it is a valid VM or port name. */
export function nameProblem(what: 'VM' | 'port', name: unknown): string | null {
  return isValidName(name) ? null : `${what} name ${JSON.stringify(name)} is not valid: it must be ${NAME_RULE}`;
}
