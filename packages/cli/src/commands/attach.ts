import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { controlSocket, type GlobalOptions } from '../cli/context.js';
import { ControlClient } from '../control/client.js';
import { EscapeFilter, describeEscape, parseEscape } from '../cli/escape.js';
import { CliError } from '../errors.js';
import { parseTarget } from '../cli/target.js';
import type { AttachConnection, AttachRequest } from '@vtcon/console';
import { loadConsole } from '../daemon/stack.js';
import { ResumingAttach } from '../cli/resume.js';
import type { VmInfo } from '../daemon/fleet.js';
import { fleetNats, parseHostTarget } from '../fleet/route.js';

interface AttachOpts { replay: number; escape: string; readOnly?: boolean; force?: boolean }

/** Connects and performs the handshake (@vtcon/console's attach client), with CLI errors. */
async function handshake(path: string, req: AttachRequest): Promise<AttachConnection> {
  const { connectAttach } = await loadConsole();
  try {
    return await connectAttach(path, req);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { reason?: string };
    if (e.reason === 'ATTACH_PROTOCOL') {
      throw /no reply/.test(e.message)
        ? new CliError('RUNTIME', `no answer from the attach socket ${path}`, { hint: 'check the daemon log; is it overloaded?' })
        : new CliError('RUNTIME', `attach refused: ${e.message}`);
    }
    throw new CliError('UNAVAILABLE', `cannot connect to the attach socket ${path} (${e.code ?? e.message})`, { hint: 'is the daemon still running? check with `vtcon ls`' });
  }
}

export function register(program: Command): void {
  program
    .command('attach')
    .description('attach this terminal to a guest console (raw mode); detach with the escape, Ctrl-] then .')
    .argument('<VM[:PORT]>', 'target; PORT defaults to the VM\'s console port')
    .option('--replay <N>', 'replay the last N lines of scrollback on entry', (v) => Number(v), 20)
    .option('--escape <KEY>', 'escape key, followed by . to detach (^X notation)', '^]')
    .option('--read-only', 'attach as a spectator: see output, never type')
    .option('--force', 'take the writer role from whoever holds it (they become a spectator)')
    .addHelpText('after', `
While attached: Ctrl-] . detaches; Ctrl-] Ctrl-] sends one Ctrl-]. Resizing your terminal
resizes the guest's console (writer only).

Examples:
  vtcon attach web1
  vtcon attach web1:console --replay 100
  vtcon attach web1:console --read-only
  vtcon attach web1:console --force --escape '^A'`)
    .action(async (targetArg: string, opts: AttachOpts, cmd: Command) => {
      const nats = await fleetNats(cmd.optsWithGlobals());
      if (nats) return (await import('../fleet/cli.js')).attach(nats, parseHostTarget(targetArg, false), opts);
      const t = parseTarget(targetArg, false);
      const escape = parseEscape(opts.escape);
      if (!Number.isInteger(opts.replay) || opts.replay < 0) throw new CliError('USAGE', '--replay must be a whole number of lines');
      const control = await ControlClient.connect(controlSocket(cmd.optsWithGlobals<GlobalOptions>()));
      let port = t.port;
      if (!port) {
        const { vms } = await control.call<{ vms: VmInfo[] }>('ls');
        const vm = vms.find((v) => v.name === t.vm);
        if (!vm) throw new CliError('NOT_FOUND', `no VM named "${t.vm}"`, { hint: 'list VMs with `vtcon ls`' });
        port = (vm.ports.find((p) => p.console) ?? vm.ports[0])?.name;
        if (!port) throw new CliError('NOT_FOUND', `VM "${t.vm}" has no ports`, { hint: 'add one with `vtcon port add`' });
      }
      const info = await control.call<{ path: string }>('attach.info', { vm: t.vm, port });
      const name = `${userInfo().username}@${hostname()} (pid ${process.pid})`;
      const conn = await handshake(info.path, { role: opts.readOnly ? 'spectator' : opts.force ? 'force-writer' : 'writer', replay: opts.replay, name });
      const { reply } = conn;
      const role = reply.role;
      control.close();
      const stdin = process.stdin;
      const stdout = process.stdout;
      const tty = stdin.isTTY === true;
      const downgraded = role === 'spectator' && !opts.readOnly;
      stderrNote(`[vtcon: attached to ${t.vm}:${port} as ${role}${role === 'spectator' ? ' (read-only)' : ''}; ${describeEscape(escape)} then . to detach]` +
        (downgraded ? `\r\n[vtcon: ${reply.writer ?? 'someone'} is the writer; re-attach with --force to take over]` : ''));
      // After a daemon restart it reconnects and resumes at its offset in the port log, keeping
      // the role it had (a writer asks for the role again; someone may have taken it meanwhile).
      const session = new ResumingAttach(conn, (req) => handshake(info.path, req), { role, name },
        (b) => stdout.write(b), (line) => { process.stderr.write(`\r\n${line}\r\n`); sendSize(); });
      function sendSize(): void {
        if (role !== 'writer' || !stdout.isTTY) return;
        session.sendResize({ cols: stdout.columns, rows: stdout.rows });
      }
      sendSize();
      process.on('SIGWINCH', sendSize);
      if (tty) stdin.setRawMode(true);
      const filter = new EscapeFilter(escape);
      await new Promise<void>((resolve) => {
        let finished = false;
        const done = (why: string) => {
          if (finished) return;
          finished = true;
          stdin.off('data', onInput);
          process.off('SIGWINCH', sendSize);
          if (tty) stdin.setRawMode(false);
          stdin.pause();
          session.stop();
          stderrNote(`[vtcon: ${why}]`);
          resolve();
        };
        const onInput = (chunk: Buffer) => {
          const { forward, detach } = filter.push(chunk);
          if (forward.length > 0 && role === 'writer') session.sendInput(forward);
          if (detach) done(`detached from ${t.vm}:${port}`);
        };
        stdin.on('data', onInput);
        // Piped input (not a terminal): detach once it ends, after the guest had a moment to answer.
        if (!tty) stdin.once('end', () => setTimeout(() => done('input ended; detached'), 300));
        stdin.resume();
        session.onClose((why) => done(`connection to ${t.vm}:${port} ${why}`));
      });
    });
}

function stderrNote(msg: string): void {
  process.stderr.write(`\r\n${msg}\r\n`);
}
