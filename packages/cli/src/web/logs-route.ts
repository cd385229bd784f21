// GET /api/logs: a port's log for the page's logs view. With q, only the lines that contain it
// (case-insensitive, matched on the text without terminal escapes); with download=1, the whole
// log file history as an attachment. Reads go through the control API's `logs` method.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isValidName } from '../config/names.js';
import type { DaemonLink } from './daemon-link.js';

const MAX_VIEW_LINES = 5000;
/** CSI/OSC sequences and other C0 controls except tab and newline. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f]/g;

export function plainText(text: string): string {
  return text.replace(ESCAPES, '');
}

/** The last `limit` lines of `text` that contain `q` (all lines without q), as plain text. */
export function searchLines(text: string, q: string, limit = MAX_VIEW_LINES): { lines: string[]; matched: number } {
  const needle = q.toLowerCase();
  const all = plainText(text).split('\n');
  if (all.at(-1) === '') all.pop();
  const hits = needle ? all.filter((l) => l.toLowerCase().includes(needle)) : all;
  return { lines: hits.slice(-limit), matched: hits.length };
}

export function registerLogRoutes(app: FastifyInstance, link: DaemonLink, needSession: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void {
  app.get('/api/logs', { preHandler: needSession }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const vm = q.vm ?? '';
    const port = q.port ?? '';
    if (!isValidName(vm) || !isValidName(port)) return reply.code(400).send({ error: 'vm and port required' });
    const search = (q.q ?? '').slice(0, 200);
    const download = q.download === '1';
    let r: { data: string; logFile: string | null };
    try {
      r = await link.call<{ data: string; logFile: string | null }>('logs', { vm, port, files: true, ...(download ? {} : { lines: 100_000 }) });
    } catch (err) {
      const code = (err as { code?: string }).code === 'NOT_FOUND' ? 404 : 502;
      return reply.code(code).send({ error: (err as Error).message });
    }
    const text = Buffer.from(r.data, 'base64').toString('utf8');
    if (download) {
      return reply
        .header('content-disposition', `attachment; filename="${vm}-${port}.log"`)
        .type('text/plain; charset=utf-8')
        .send(search ? searchLines(text, search, Number.MAX_SAFE_INTEGER).lines.join('\n') + '\n' : text);
    }
    return { logFile: r.logFile, ...searchLines(text, search) };
  });
}
