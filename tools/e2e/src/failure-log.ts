// Vitest glue: every guest booted through the returned function is killed after its test, and a
// failed test prints each guest's serial log (the only view into what the guest saw).
import { afterEach, beforeEach } from 'vitest';
import { VtconDaemon, type DaemonOptions } from './daemon.js';
import { bootGuest, type BootOptions, type Guest } from './qemu.js';

export function guestsPerTest(): (opts: BootOptions) => Guest {
  let booted: Guest[] = [];
  beforeEach((ctx) => {
    booted = [];
    ctx.onTestFailed(() => {
      for (const g of booted) process.stderr.write(`\n${g.report()}\n`);
    });
  });
  afterEach(async () => {
    await Promise.all(booted.map((g) => g.kill()));
  });
  return (opts) => {
    const g = bootGuest(opts);
    booted.push(g);
    return g;
  };
}

/** How much of a daemon log a failed test prints (the whole log stays in the daemon's folder). */
const DAEMON_LOG_TAIL_LINES = 400;

/**
 * Same for vtcon daemons: every daemon started through the returned function is stopped after its
 * test (SIGTERM, then SIGKILL), and a failed test prints the tail of each daemon's log.
 */
export function daemonsPerTest(): (opts: DaemonOptions) => Promise<VtconDaemon> {
  let started: VtconDaemon[] = [];
  beforeEach((ctx) => {
    started = [];
    ctx.onTestFailed(() => {
      for (const d of started) {
        const lines = d.report().split('\n');
        const tail = lines.length > DAEMON_LOG_TAIL_LINES ? [`(${lines.length - DAEMON_LOG_TAIL_LINES} earlier lines in ${d.logPath})`, ...lines.slice(-DAEMON_LOG_TAIL_LINES)] : lines;
        process.stderr.write(`\n${tail.join('\n')}\n`);
      }
    });
  });
  afterEach(async () => {
    await Promise.all(started.map((d) => d.stop(5000)));
  });
  return async (opts) => {
    const d = await VtconDaemon.start(opts);
    started.push(d);
    return d;
  };
}
