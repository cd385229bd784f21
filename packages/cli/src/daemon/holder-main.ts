// `vtcon serve` with daemon.holder (the default): this process is the holder (transport's
// holder/holder.ts: QEMU's sockets and connections, nothing else) and runs the engine — the same
// `vtcon serve` command line, told by VTCON_HOLDER_FD that it is the engine — as a child it
// replaces when it dies and upgrades on SIGUSR2. It loads no device stack, logger or config
// beyond what it needs, so there is little in it to crash.
//
// Signals: SIGTERM/SIGINT stop the engine (it drains and flushes the logs) and then the holder;
// SIGHUP goes to the engine (reload); SIGUSR2 upgrades the engine.
import { spawn } from 'node:child_process';
import type { Config } from '../config/schema.js';
import { makePrivateDir } from '../config/paths.js';
import { controlPathOf, runtimeDirOf } from './daemon.js';
import { holderStatusPath } from '../cli/holder-status.js';
import { addonFailure, importFailure } from './stack.js';


/** One JSON line per event on stderr (the engine's lines go to daemon.logFile or the same stderr). */
function holderLogger(level: string): { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug(o: object, m?: string): void } {
  const quiet = level === 'silent' || level === 'fatal' || level === 'error' ? 1 : level === 'warn' ? 2 : 3;
  const line = (lvl: number, name: string) => (o: object, msg?: string) => {
    if (lvl > quiet) return;
    try { process.stderr.write(`${JSON.stringify({ level: name, time: Date.now(), pid: process.pid, component: 'holder', ...o, msg })}\n`); } catch { /* stderr gone */ }
  };
  return { error: line(1, 'error'), warn: line(2, 'warn'), info: line(3, 'info'), debug: () => undefined };
}

export async function runHolder(config: Config): Promise<never> {
  // Only the transport (the holder's code and the addon): the holder loads no device model.
  let transport: typeof import('@vtcon/transport');
  let native: typeof import('@vtcon/transport/native');
  try { transport = await import('@vtcon/transport'); native = await import('@vtcon/transport/native'); } catch (err) { throw importFailure('@vtcon/transport', err); }
  try { native.close(native.eventfdCreate()); } catch (err) { throw addonFailure(err); } // the addon is there, for this Node
  const log = holderLogger(config.daemon.logLevel);
  makePrivateDir(runtimeDirOf(config));
  // Beside the control socket: every client finds it (cli/holder-status.ts).
  const statusPath = holderStatusPath(controlPathOf(config));
  const engines = new Set<import('node:child_process').ChildProcess>();
  const holder = new transport.Holder({
    log,
    statusPath,
    standby: config.daemon.standbyEngine,
    maxFastCrashes: config.daemon.maxEngineCrashes,
    onNeverReady: (why) => {
      process.stderr.write(`vtcon: the engine exited before it served (${why}); see its message above\n`);
      process.exit(1);
    },
    startEngine: (linkFd) => {
      // The code on disk now: an upgrade runs whatever `vtcon` is installed at this moment.
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
        stdio: ['ignore', 'inherit', 'inherit', linkFd],
        env: { ...process.env, [transport.HOLDER_FD_ENV]: '3' },
      });
      engines.add(child);
      child.once('exit', () => engines.delete(child));
      if (child.pid === undefined) throw new Error('spawn failed');
      return { pid: child.pid, kill: (sig) => { child.kill(sig); } };
    },
  });
  holder.start();
  let stopping = false;
  const stop = (sig: string) => () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping: engine drains its consoles, then the connections close');
    void holder.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop('SIGTERM'));
  process.on('SIGINT', stop('SIGINT'));
  // Only the active engine has a config to reload (a standby has not started its daemon).
  process.on('SIGHUP', () => { const pid = holder.status().engine?.pid; for (const e of engines) if (e.pid === pid) e.kill('SIGHUP'); });
  process.on('SIGUSR2', () => holder.upgrade());
  process.stderr.write(`vtcon: holder ${process.pid} keeps the VMs' connections; engine restarts and upgrades (SIGUSR2, \`vtcon upgrade\`) keep them\n`);
  return new Promise<never>(() => undefined);
}
