// Login for the web console: tokens (from a 0600 token file and/or the config) with a role, and
// the sessions they are exchanged for. The token never travels again after login: the browser
// holds only an opaque session id in an HttpOnly SameSite=Strict cookie.
//
// Tokens are compared as SHA-256 digests with timingSafeEqual, so a comparison's time says
// nothing about how much of a guess was right. Sessions are bounded (oldest evicted) and expire
// after an idle period.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { CliError } from '../errors.js';
import type { WebRole } from './web-config.js';

export const SESSION_COOKIE = 'vtcon_session';
const MAX_SESSIONS = 1000;
const SESSION_IDLE_MS = 12 * 3600_000;
const MAX_TOKEN_FILE = 64 * 1024;

export interface WebToken { token: string; role: WebRole }

export interface Session { id: string; role: WebRole; createdAt: number; lastSeen: number }

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Parses "read <token>" / "write <token>" lines; blank lines and # comments are skipped. */
export function parseTokenFile(text: string, file: string): WebToken[] {
  const out: WebToken[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(read|write)\s+(\S{16,256})$/.exec(line);
    if (!m) throw new CliError('CONFIG_INVALID', `${file}:${i + 1}: expected "read <token>" or "write <token>" (token: 16-256 characters)`);
    out.push({ role: m[1] as WebRole, token: m[2]! });
  });
  return out;
}

/**
 * Reads the token file, creating it (O_EXCL, mode 0600) with one fresh write and one fresh read
 * token when it does not exist. Refuses a file that others can read or that is not a regular
 * file, as ssh refuses a readable private key.
 */
export function loadOrCreateTokenFile(file: string): { tokens: WebToken[]; created: boolean } {
  let fd: number;
  let created = false;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new CliError('CONFIG_INVALID', `token file ${file} is a symbolic link`, { hint: 'name the file itself', cause: err });
    if (code !== 'ENOENT') throw new CliError('CONFIG_UNREADABLE', `token file ${file}: ${(err as Error).message}`, { cause: err });
    const tokens: WebToken[] = [{ role: 'write', token: newToken() }, { role: 'read', token: newToken() }];
    const w = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(w, `# vtcon web login tokens: "write" types into consoles, "read" only watches.\n${tokens.map((t) => `${t.role} ${t.token}`).join('\n')}\n`);
    } finally {
      closeSync(w);
    }
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    created = true;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CliError('CONFIG_INVALID', `token file ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) throw new CliError('CONFIG_INVALID', `token file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, { hint: `chmod 600 ${file}` });
    if (st.size > MAX_TOKEN_FILE) throw new CliError('CONFIG_INVALID', `token file ${file} is larger than ${MAX_TOKEN_FILE} bytes`);
    return { tokens: parseTokenFile(readFileSync(fd, 'utf8'), file), created };
  } finally {
    closeSync(fd);
  }
}

export class Auth {
  private readonly tokens: { digest: Buffer; role: WebRole }[];
  private readonly sessions = new Map<string, Session>();

  constructor(tokens: WebToken[], private readonly now: () => number = Date.now) {
    if (tokens.length === 0) throw new CliError('CONFIG_INVALID', 'the web console has no login tokens (web.tokens or web.tokenFile)');
    this.tokens = tokens.map((t) => ({ digest: digest(t.token), role: t.role }));
  }

  /** The role a token grants, or null. Every configured token is compared (no early exit). */
  roleOf(token: string): WebRole | null {
    const d = digest(token);
    let role: WebRole | null = null;
    for (const t of this.tokens) {
      // write wins if one token string were listed with both roles.
      if (timingSafeEqual(d, t.digest) && role !== 'write') role = t.role;
    }
    return role;
  }

  /** Exchanges a token for a new session; null for a wrong token. */
  login(token: string): Session | null {
    const role = this.roleOf(token);
    if (!role) return null;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const at = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), role, createdAt: at, lastSeen: at };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session for a cookie value, refreshed; null when unknown or idle too long. */
  session(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    const at = this.now();
    if (at - s.lastSeen > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return null;
    }
    s.lastSeen = at;
    // Re-insert: Map order is then least recently used first, which is what eviction takes.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  logout(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}
