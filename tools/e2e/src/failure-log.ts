// Vitest glue: every guest booted through the returned function is killed after its test, and a
// failed test prints each guest's serial log (the only view into what the guest saw).
import { afterEach, beforeEach } from 'vitest';
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
