// `vtcon web`: the fleet page and its consoles over HTTP(S), for the local daemon.
//
// Trust boundary: everything a browser sends. The page is served from this process (bundled at
// build time: no CDN, nothing fetched at run time). Every request's Host must be one of ours
// (DNS rebinding); every API call and WebSocket upgrade needs a session cookie; POSTs and
// upgrades must come from an allowed Origin (cross-site WebSocket hijacking); login is rate
// limited per address. Tokens are only ever in a POST body, never in a URL.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyWebsocket from '@fastify/websocket';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Auth, SESSION_COOKIE, type Session } from './auth.js';
import { bridgeConsole } from './console-bridge.js';
import { DaemonLink } from './daemon-link.js';
import { registerLogRoutes } from './logs-route.js';
import { CliError } from '../errors.js';
import { isValidName } from '../config/names.js';
import { isLoopback, parseListen, type WebConfig, type WebRole } from './web-config.js';

export interface WebServerOptions {
  config: WebConfig;
  /** The daemon's control socket. */
  controlPath: string;
  auth: Auth;
  /** Where the built page lives (dist/web/page); the default is next to this module's dist. */
  pageDir?: string;
}

export interface WebServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

const PAGE_DIR = fileURLToPath(new URL('../../dist/web/page/', import.meta.url));
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

declare module 'fastify' {
  interface FastifyRequest { session: Session | null }
}

function loadPage(dir: string): Record<string, { type: string; body: Buffer }> {
  const file = (name: string, type: string) => {
    try {
      return { type, body: readFileSync(`${dir}/${name}`) };
    } catch (err) {
      throw new CliError('STACK_NOT_BUILT', `the web page is not built (${dir}${name} missing)`, { hint: 'run `npx nx run @vtcon/cli:build`', cause: err });
    }
  };
  return {
    '/': file('index.html', 'text/html; charset=utf-8'),
    '/app.js': file('app.js', 'text/javascript; charset=utf-8'),
    '/app.css': file('app.css', 'text/css; charset=utf-8'),
  };
}

/** The origins a page of ours has: the listen address, plus the localhost names on loopback. */
export function allowedOrigins(config: WebConfig, port: number): Set<string> {
  if (config.origins) return new Set(config.origins.map((o) => new URL(o).origin));
  const scheme = config.tls ? 'https' : 'http';
  const { host } = parseListen(config.listen);
  const hosts = new Set([host.includes(':') ? `[${host}]` : host]);
  if (isLoopback(host)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(h);
  return new Set([...hosts].map((h) => `${scheme}://${h}:${port}`));
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { config, auth } = opts;
  const { host, port } = parseListen(config.listen);
  const page = loadPage(opts.pageDir ?? PAGE_DIR);
  let https: { key: Buffer; cert: Buffer } | null = null;
  if (config.tls) {
    try {
      https = { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.cert) };
    } catch (err) {
      throw new CliError('CONFIG_UNREADABLE', `web.tls: ${(err as Error).message}`, { cause: err });
    }
  }
  const app = (https ? fastify({ https, logger: false }) : fastify({ logger: false })) as unknown as FastifyInstance;
  const link = new DaemonLink(opts.controlPath);
  let origins = new Set<string>();
  let hosts = new Set<string>();
  let clients = 0;

  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, { global: false });
  // maxPayload: a paste larger than this is split by the page.
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  app.decorateRequest('session', null);

  app.addHook('onRequest', async (req, reply) => {
    if (!hosts.has(String(req.headers.host ?? '').toLowerCase())) return reply.code(421).send('unknown host');
    void reply.headers({
      'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY', 'cache-control': 'no-store',
    });
    req.session = auth.session(req.cookies[SESSION_COOKIE]);
  });
  const originOk = (req: FastifyRequest) => origins.has(String(req.headers.origin ?? ''));
  const needSession = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.session) return reply.code(401).send({ error: 'log in first' });
  };
  const needOrigin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!originOk(req)) return reply.code(403).send({ error: 'cross-origin request refused' });
  };

  for (const [path, f] of Object.entries(page)) app.get(path, async (_req, reply) => reply.type(f.type).send(f.body));

  app.post('/api/login', {
    preHandler: needOrigin,
    config: { rateLimit: { max: config.loginPerMinute, timeWindow: 60_000 } },
  }, async (req, reply) => {
    const token = (req.body as { token?: unknown } | null)?.token;
    const s = typeof token === 'string' && token.length <= 256 ? auth.login(token) : null;
    if (!s) return reply.code(401).send({ error: 'wrong token' });
    void reply.setCookie(SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'strict', secure: https !== null, path: '/' });
    return { role: s.role };
  });
  app.post('/api/logout', { preHandler: needOrigin }, async (req, reply) => {
    auth.logout(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });
  app.get('/api/me', { preHandler: needSession }, async (req) => ({ role: req.session!.role }));
  app.get('/api/fleet', { preHandler: needSession }, async () => link.fleet());
  registerLogRoutes(app, link, needSession);

  app.get('/ws/console', {
    websocket: true,
    preValidation: async (req, reply) => {
      if (!originOk(req)) return reply.code(403).send({ error: 'cross-origin WebSocket refused' });
      if (!req.session) return reply.code(401).send({ error: 'log in first' });
      const q = req.query as Record<string, string | undefined>;
      if (!isValidName(q.vm) || !isValidName(q.port)) return reply.code(400).send({ error: 'vm and port required' });
    },
  }, (ws, req) => {
    const q = req.query as Record<string, string>;
    const role: WebRole = req.session!.role;
    const replay = Math.min(10_000, Math.max(0, Number.parseInt(q.replay ?? '200', 10) || 0));
    clients += 1;
    const name = `web ${role === 'write' ? 'writer' : 'reader'} ${req.ip} #${clients}`;
    // Hold messages until the bridge listens: keystrokes typed at once must not be lost.
    ws.pause();
    void link.call<{ path: string }>('attach.info', { vm: q.vm, port: q.port }).then(
      (info) => bridgeConsole(ws, { attachPath: info.path, session: role, name, replay, sendBreak: () => link.call('break', { vm: q.vm, port: q.port }) }),
      (err: Error) => {
        ws.send(JSON.stringify({ type: 'closed', reason: 'refused', message: err.message }));
        ws.close(4004, 'no such port');
      },
    ).finally(() => ws.resume());
  });

  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  origins = allowedOrigins(config, bound);
  hosts = new Set([...origins].map((o) => new URL(o).host));
  const first = [...origins][0]!;
  return {
    url: `${first}/`,
    app,
    close: async () => {
      link.close();
      await app.close();
    },
  };
}
