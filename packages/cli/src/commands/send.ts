import type { Command } from 'commander';
import type { GlobalOptions } from '../cli/context.js';
import { CliError } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { callTarget } from '../fleet/route.js';

interface SendReply { accepted: number; bytes: number; delivered?: boolean; pending?: number }

/** The most one request carries: its base64 stays under the control API's 1 MiB line. */
const ONE_REQUEST_MAX = 700_000;
/** Bytes per request when stdin holds more than that. */
const SEND_PIECE = 256 * 1024;

/**
 * More than one request's worth: the pieces go one after the other, each retried while the
 * backlog is full (the guest reads at its own pace), so nothing is lost and nothing is reordered.
 * Only `timeoutSec` without any progress ends it; the reply then counts what was accepted.
 */
async function sendInPieces(data: Buffer, call: (piece: Buffer, wait: boolean) => Promise<{ r: SendReply }>, wait: boolean, timeoutSec: number): Promise<SendReply> {
  let sent = 0;
  let stalledSince = Date.now();
  let pause = 20;
  let last: SendReply = { accepted: 0, bytes: 0 };
  while (sent < data.length) {
    const piece = data.subarray(sent, sent + SEND_PIECE);
    const isLast = sent + piece.length === data.length;
    const { r } = await call(piece, wait && isLast);
    if (r.accepted > 0) {
      sent += r.accepted;
      last = r;
      stalledSince = Date.now();
      pause = 20;
      continue;
    }
    if (Date.now() - stalledSince > timeoutSec * 1000) break;
    await sleep(pause);
    pause = Math.min(pause * 2, 500);
  }
  return { ...last, accepted: sent, bytes: data.length };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function register(program: Command): void {
  program
    .command('send')
    .description('send input to a guest port (TEXT gets a trailing newline unless --raw; "-" reads stdin as is)')
    .argument('<VM:PORT>', 'target port')
    .argument('<TEXT|->', 'text to type, or - for stdin')
    .option('--raw', 'send TEXT exactly, without the trailing newline')
    .option('--wait', 'return only once the guest has taken the bytes (they are in its receive buffers)')
    .option('--timeout <SEC>', 'with --wait: give up after SEC seconds (exit 1, the bytes stay queued)', '10')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Examples:
  vtcon send web1:console 'uname -a'
  printf 'root\\n' | vtcon send web1:console -
  vtcon send db1:org.qemu.agent --raw '{"execute":"guest-ping"}'
  vtcon send --wait --timeout 5 web1:console 'reboot'   # exit 0 only once the guest has it

Without --wait, send returns once the daemon has queued the bytes; the guest reads them when it
has the port open. With --wait it returns when they are in the guest's receive buffers, and exits
1 after --timeout if they are not (they stay queued: a guest that opens the port later gets them).`)
    .action(async (targetArg: string, text: string, opts: { raw?: boolean; json?: boolean; wait?: boolean; timeout: string }, cmd: Command) => {
      const timeoutSec = Number(opts.timeout);
      if (!(timeoutSec >= 0 && timeoutSec <= 3600)) throw new CliError('USAGE', `--timeout ${opts.timeout}: seconds between 0 and 3600`);
      const data = text === '-' ? await readStdin() : Buffer.from(opts.raw ? text : text + '\n');
      const call = (piece: Buffer, wait: boolean) => callTarget<SendReply>(cmd.optsWithGlobals<GlobalOptions>(), targetArg, true, 'send',
        (t) => ({ vm: t.vm, port: t.port, data: piece.toString('base64'), ...(wait ? { wait: true, timeoutMs: Math.round(timeoutSec * 1000) } : {}) }));
      const wait = Boolean(opts.wait);
      const r = data.length <= ONE_REQUEST_MAX ? (await call(data, wait)).r : await sendInPieces(data, call, wait, timeoutSec);
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      if (r.accepted < r.bytes) {
        throw new CliError('RUNTIME', `only ${r.accepted} of ${r.bytes} bytes were accepted: the port's backlog is full (the guest is not reading)`, { hint: 'check the guest with `vtcon ls` (BACKLOG column) and retry later' });
      }
      if (opts.wait && r.delivered === false) {
        throw new CliError('RUNTIME', `the guest took ${r.accepted - (r.pending ?? 0)} of ${r.accepted} bytes within ${timeoutSec} s; the rest stay queued for it`, { hint: 'is the port open in the guest? see `vtcon ls` (GUEST column)' });
      }
    });
}
