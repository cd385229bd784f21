import { createConnection, type Socket } from 'node:net';
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { controlSocket, type GlobalOptions } from '../cli/context.js';
import { ControlClient } from '../control/client.js';
import { EscapeFilter, describeEscape, parseEscape } from '../cli/escape.js';
import { CliError, ExitCode } from '../cli/exit.js';
import { parseTarget } from '../cli/target.js';
import { encodeHello, encodeInput, encodeResize, parseReply, type AttachReply, type AttachRequest, type ParsedReply } from '../cli/attach-wire.js';
import type { VmInfo } from '../daemon/fleet.js';

interface AttachOpts { replay: number; escape: string; readOnly?: boolean; force?: boolean }

/** Connects and performs the handshake; resolves with the granted role and any bytes after it. */
function handshake(path: string, req: AttachRequest): Promise<{ socket: Socket; reply: AttachReply; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new CliError(ExitCode.RUNTIME, `no answer from the attach socket ${path}`, 'check the daemon log; is it overloaded?'));
    }, 5000);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CliError(ExitCode.NO_DAEMON, `cannot connect to the attach socket ${path} (${err.code ?? err.message})`, 'is the daemon still running? check with `vtcon ls`'));
    });
    socket.once('connect', () => socket.write(encodeHello(req)));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // Output that raced ahead of our hello is skipped: the replay re-sends it.
      const at = buf.indexOf('VTCON-');
      const lf = at < 0 ? -1 : buf.indexOf(0x0a, at);
      if (lf < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      let parsed: ParsedReply;
      try {
        parsed = parseReply(buf.subarray(at, lf).toString('utf8'));
      } catch (err) {
        socket.destroy();
        return reject(new CliError(ExitCode.RUNTIME, (err as Error).message));
      }
      if (!parsed.ok) {
        socket.destroy();
        return reject(new CliError(ExitCode.RUNTIME, `attach refused: ${parsed.message} (${parsed.reason})`));
      }
      resolve({ socket, reply: parsed.reply, rest: buf.subarray(lf + 1) });
    };
    socket.on('data', onData);
  });
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
      const t = parseTarget(targetArg, false);
      const escape = parseEscape(opts.escape);
      if (!Number.isInteger(opts.replay) || opts.replay < 0) throw new CliError(ExitCode.USAGE, '--replay must be a whole number of lines');
      const control = await ControlClient.connect(controlSocket(cmd.optsWithGlobals<GlobalOptions>()));
      let port = t.port;
      if (!port) {
        const { vms } = await control.call<{ vms: VmInfo[] }>('ls');
        const vm = vms.find((v) => v.name === t.vm);
        if (!vm) throw new CliError(ExitCode.NOT_FOUND, `no VM named "${t.vm}"`, 'list VMs with `vtcon ls`');
        port = (vm.ports.find((p) => p.console) ?? vm.ports[0])?.name;
        if (!port) throw new CliError(ExitCode.NOT_FOUND, `VM "${t.vm}" has no ports`, 'add one with `vtcon port add`');
      }
      const info = await control.call<{ path: string }>('attach.info', { vm: t.vm, port });
      const name = `${userInfo().username}@${hostname()} (pid ${process.pid})`;
      const { socket, reply, rest } = await handshake(info.path, { role: opts.readOnly ? 'spectator' : opts.force ? 'force-writer' : 'writer', replay: opts.replay, name });
      const role = reply.role;
      control.close();
      const stdin = process.stdin;
      const stdout = process.stdout;
      const tty = stdin.isTTY === true;
      const downgraded = role === 'spectator' && !opts.readOnly;
      stderrNote(`[vtcon: attached to ${t.vm}:${port} as ${role}${role === 'spectator' ? ' (read-only)' : ''}; ${describeEscape(escape)} then . to detach]` +
        (downgraded ? `\r\n[vtcon: ${reply.writer ?? 'someone'} is the writer; re-attach with --force to take over]` : ''));
      if (rest.length > 0) stdout.write(rest);
      socket.on('data', (chunk: Buffer) => stdout.write(chunk));
      socket.resume();
      const sendSize = () => {
        if (role !== 'writer' || !stdout.isTTY) return;
        socket.write(encodeResize(stdout.columns, stdout.rows));
      };
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
          socket.destroy();
          stderrNote(`[vtcon: ${why}]`);
          resolve();
        };
        const onInput = (chunk: Buffer) => {
          const { forward, detach } = filter.push(chunk);
          if (forward.length > 0 && role === 'writer') socket.write(encodeInput(forward));
          if (detach) done(`detached from ${t.vm}:${port}`);
        };
        stdin.on('data', onInput);
        // Piped input (not a terminal): detach once it ends, after the guest had a moment to answer.
        if (!tty) stdin.once('end', () => setTimeout(() => done('input ended; detached'), 300));
        stdin.resume();
        socket.once('close', () => done(`connection to ${t.vm}:${port} closed`));
      });
    });
}

function stderrNote(msg: string): void {
  process.stderr.write(`\r\n${msg}\r\n`);
}
