import type { Command } from 'commander';
import { withClient, type GlobalOptions } from '../cli/context.js';
import { parseSince, parseTarget } from '../cli/target.js';
import { fleetNats, parseHostTarget } from '../fleet/route.js';
import { hostname, userInfo } from 'node:os';
import { CliError } from '../errors.js';
import { loadConsole } from '../daemon/stack.js';
import { ResumingAttach } from '../cli/resume.js';

/** The attach protocol's largest replay: "everything the scrollback (replay window) holds". */
const MAX_REPLAY_LINES = 1_000_000;

/** `logs -f` as a read-only attach session; ends on SIGINT or when the daemon does not come back. */
async function followAttach(path: string, lines: number, write: (b: Uint8Array) => void): Promise<void> {
  const { connectAttach } = await loadConsole();
  const name = `logs -f ${userInfo().username}@${hostname()} (pid ${process.pid})`;
  let conn;
  try {
    conn = await connectAttach(path, { role: 'spectator', replay: lines, name });
  } catch (err) {
    throw new CliError('UNAVAILABLE', `cannot follow through the attach socket ${path} (${(err as Error).message})`, { hint: 'is the daemon still running? check with `vtcon ls`' });
  }
  const session = new ResumingAttach(conn, (req) => connectAttach(path, req), { role: 'spectator', name }, write,
    (line) => process.stderr.write(`${line}\n`));
  await new Promise<void>((resolve) => {
    session.onClose(() => resolve());
    process.once('SIGINT', () => { session.stop(); resolve(); });
  });
}

/**
 * The whole history when the daemon's reply left `omitted` older bytes out (it bounds a reply):
 * read from the log files here, on the daemon's host, as its user; the reply's tail if they cannot be read.
 */
async function historyOf(logFile: string, omitted: number, sinceMs: number | undefined, lines: number | undefined, tail: Buffer): Promise<Buffer> {
  const { lastLinesOf, readLogHistory } = await import('../daemon/log-files.js');
  try {
    const text = await readLogHistory(logFile, sinceMs);
    return lines === undefined ? text : lastLinesOf(text, lines);
  } catch (err) {
    process.stderr.write(`vtcon: ${omitted} older bytes left out: ${logFile} cannot be read here (${(err as Error).message})\n`);
    return tail;
  }
}

/** Prefixes each line start with the local receive time (for -f --timestamps). */
function timestamper(): (chunk: Buffer) => string {
  let atLineStart = true;
  return (chunk) => {
    let out = '';
    const text = chunk.toString('utf8');
    for (const ch of text) {
      if (atLineStart) out += `${new Date().toISOString()} `;
      out += ch;
      atLineStart = ch === '\n';
    }
    return out;
  };
}

export function register(program: Command): void {
  program
    .command('logs')
    .description("print a port's output: the scrollback, or with --all the log files")
    .argument('<VM:PORT>', 'target port')
    .option('-f, --follow', 'keep printing new output until Ctrl-C')
    .option('--since <T>', 'only output since T: a duration ago (30s, 5m, 2h) or a date')
    .option('-n, --lines <N>', 'only the last N lines', (v) => Number(v))
    .option('--timestamps', 'prefix followed lines with the time they arrived')
    .option('--all', 'the whole history from the log files (all rotations) instead of the scrollback; with --since, needs sinks.timestamps')
    .option('--verbose', 'also print where the log file is')
    .addHelpText('after', `
Examples:
  vtcon logs web1:console
  vtcon logs -n 50 web1:console
  vtcon logs --since 10m web1:console
  vtcon logs --all web1:console | less -R
  vtcon logs -f --timestamps web1:console`)
    .action(async (targetArg: string, opts: { follow?: boolean; since?: string; lines?: number; timestamps?: boolean; verbose?: boolean; all?: boolean }, cmd: Command) => {
      const sinceMs = opts.since ? parseSince(opts.since) : undefined;
      const nats = await fleetNats(cmd.optsWithGlobals());
      // Fleet mode reads the output stream, so it works after the host is gone.
      if (nats) return (await import('../fleet/cli.js')).logs(nats, parseHostTarget(targetArg, true), { ...(sinceMs !== undefined ? { sinceMs } : {}), follow: Boolean(opts.follow) });
      const t = parseTarget(targetArg, true);
      await withClient(cmd.optsWithGlobals<GlobalOptions>(), async (cl) => {
        const stamp = opts.timestamps ? timestamper() : null;
        const params = { vm: t.vm, port: t.port, ...(sinceMs !== undefined ? { sinceMs } : {}), ...(opts.lines !== undefined ? { lines: opts.lines } : {}) };
        if (!opts.follow) {
          const r = await cl.call<{ data: string; logFile: string | null; omitted?: number }>('logs', { ...params, files: Boolean(opts.all) });
          if (opts.verbose && r.logFile) process.stderr.write(`log file: ${r.logFile}\n`);
          process.stdout.write(r.omitted && r.logFile ? await historyOf(r.logFile, r.omitted, sinceMs, opts.lines, Buffer.from(r.data, 'base64')) : Buffer.from(r.data, 'base64'));
          return;
        }
        const write = (b: Buffer) => process.stdout.write(stamp ? stamp(b) : b);
        if (sinceMs === undefined) {
          // Follow through the attach socket as a spectator: the same history (the last lines,
          // or as much as the scrollback holds), and with a port log it resumes at its offset
          // after a daemon restart.
          const { path } = await cl.call<{ path: string }>('attach.info', { vm: t.vm, port: t.port });
          cl.close();
          await followAttach(path, opts.lines ?? MAX_REPLAY_LINES, (b) => write(Buffer.from(b)));
          return;
        }
        // The daemon sends the history as the first reply, then live output as events.
        const follow = cl.stream<{ data: string }>('logs.follow', params, (_e, data) => write(Buffer.from(String(data), 'base64')));
        process.stdout.write(Buffer.from((await follow.first).data, 'base64'));
        process.once('SIGINT', () => cl.close());
        await follow.done;
      });
    });
}
