// The engine killed under running guests: `vtcon serve` (a holder keeping the VMs' connections,
// an engine doing the work) in a child process, a guest (the seed's driver model over the real
// vhost-user socket, RAM in a memfd) in this process streaming on a console port and a named
// port while it also sends vhost-user requests, and the engine SIGKILLed 10 times at random
// points. The guest never reconnects; every request gets its one answer; every log equals what
// the guest wrote, byte for byte (nothing lost, nothing twice); the holder's fds are flat.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FrontendHandle, VtconDriver } from '@vtcon/console/testing';
import { VhostUserFrontend, type HolderStatus } from '@vtcon/transport';
import * as native from '@vtcon/transport/native';
import { runCliAsync, spawnServe, tempDir, vmYaml, waitFor } from '../testing/binary.js';
import { readHolderStatus } from '../cli/holder-status.js';
import { guestPort } from '../testing/guest-port.js';

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

const line = (port: string, i: number): Buffer => Buffer.from(`${port} ${i} ${'x'.repeat((i * 53) % 700)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILLS = 10;

/** The CLI in a child, without blocking this process (its guest must go on meanwhile). */
const cli = (args: string[]) => runCliAsync(args, {}, 60_000);

/**
 * `vtcon serve` (a holder and its engine) with one VM `vm1` in a fresh folder; `env` is set for
 * the daemon (test hooks) and undone after the test. `status()` reads the holder's status file as
 * every client does (cli/holder-status.ts).
 */
async function startHeld(prefix: string, daemonExtra: string, ports: { name: string; console?: boolean }[], env: (dir: string) => Record<string, string> = () => ({})) {
  const dir = tempDir(prefix);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const control = join(dir, 'control.sock');
  const configPath = join(dir, 'fleet.yaml');
  writeFileSync(configPath, `daemon:\n  control: ${control}\n  runtimeDir: ${dir}\n${daemonExtra}vms:\n` + vmYaml(dir, 'vm1', ports));
  for (const [k, v] of Object.entries(env(dir))) {
    process.env[k] = v;
    cleanups.push(() => { delete process.env[k]; });
  }
  const serve = await spawnServe(configPath, dir, (e) => e.includes('vtcon: serving'), 'the engine to serve');
  cleanups.push(() => serve.child.kill('SIGKILL'));
  const status = (): HolderStatus => {
    const st = readHolderStatus(control);
    if (!st) throw new Error(`no live holder beside ${control}`);
    return st;
  };
  return { dir, control, serve, status };
}

/** log equals sent; on failure, where they part and what each holds there (lost or repeated bytes). */
function expectSameBytes(log: Buffer, sent: Buffer, what: string): void {
  if (log.equals(sent)) return;
  let i = 0;
  while (i < log.length && i < sent.length && log[i] === sent[i]) i++;
  const around = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, i - 80), i + 80).toString('latin1'));
  expect.fail(`${what}: ${log.length} bytes logged, ${sent.length} written; they part at byte ${i}\nlog:  ${around(log)}\nsent: ${around(sent)}`);
}

describe('engine SIGKILL under a held connection', () => {
  it('10 kills at random points: streams byte-exact on both port kinds, every request answered, holder fds flat', async () => {
    // 10 kills in a few seconds is a crash loop by the default rule (10 fast crashes): allow more.
    // Every log write is followed by a 10 ms stall before its chains are used (a test hook), so
    // most kills land between "logged" and "used": the next engine must cut those bytes back.
    const { dir, serve, status } = await startHeld('vtcon-takeover-', '  maxEngineCrashes: 50\n',
      [{ name: 'console', console: true }, { name: 'org.test.held' }], () => ({ VTCON_TEST_LOG_STALL_MS: '10' }));

    let fe: VhostUserFrontend | null = null;
    const handle = new FrontendHandle((onConfigChange) => (fe = VhostUserFrontend.connect(join(dir, 'vm1.vhost.sock'), { onConfigChange })), native);
    const driver = new VtconDriver(handle, { txChunk: 4096 });
    await driver.attach();
    cleanups.push(() => { void driver.detach().catch(() => undefined); });
    const ports = ['console', 'org.test.held'];
    await waitFor(() => ports.every((p) => driver.portByName(p)), 'both ports in the guest');
    await driver.portByName('org.test.held')!.open();
    const holderFds = () => readdirSync(`/proc/${serve.child.pid}/fd`).length;
    // Measured with the standby engine up (its link is one of the holder's fds).
    await waitFor(() => status().standbyPid !== null, 'the standby engine');
    const fdsBefore = holderFds();

    // Writers: each awaits its chain's use (the acknowledgment) before the next write.
    let stop = false;
    const sent = new Map<string, Buffer[]>(ports.map((p) => [p, []]));
    const failed = (e: unknown): never => {
      throw new Error(`sent ${JSON.stringify(Object.fromEntries([...sent].map(([k, v]) => [k, v.length])))} ${(e as Error).message}; holder status ${JSON.stringify(status())}; serve said:\n${serve.stderr().slice(-8000)}`);
    };
    const acked = new Map<string, number>(ports.map((p) => [p, 0]));
    const writers = ports.map(async (name) => {
      const p = driver.portByName(name)!;
      for (let i = 0; !stop; i++) {
        const l = line(name, i);
        sent.get(name)!.push(l);
        await p.write(l);
        acked.set(name, i + 1);
      }
    }).map((w) => w.catch(failed));
    // vhost-user requests in flight across the kills: each must come back once.
    let answered = 0;
    const requester = (async () => {
      while (!stop) {
        await fe!.getConfig(0, 8);
        await fe!.getFeatures();
        answered += 2;
      }
    })();

    const engines = new Set<number>();
    for (let k = 0; k < KILLS; k++) {
      // The engine serves (both streams moved since the last kill), then dies at a random point of
      // the transfer: mid-chain, mid-batch, with requests in flight on the vhost-user socket.
      const mark = new Map(acked);
      await waitFor(() => ports.every((p) => acked.get(p)! > mark.get(p)!), `both streams to move before kill ${k + 1}`, 30_000).catch(failed);
      await sleep(Math.floor(Math.random() * 300));
      const pid = status().engine?.pid;
      expect(pid).toBeTypeOf('number');
      engines.add(pid!);
      process.kill(pid!, 'SIGKILL');
      await waitFor(() => { const s = status(); return s.engineState === 'up' && s.engine !== null && s.engine.pid !== pid; }, `a new engine after kill ${k + 1}`, 20_000)
        .catch(failed);
    }
    await sleep(300);
    stop = true;
    await Promise.all([...writers, requester]);

    expect(engines.size).toBe(KILLS);
    expect(status().restarts).toBeGreaterThanOrEqual(KILLS);
    expect(answered).toBeGreaterThan(0);
    for (const name of ports) {
      expectSameBytes(readFileSync(join(dir, 'logs', 'vm1', `${name}.log`)), Buffer.concat(sent.get(name)!), `${name}.log after ${KILLS} kills`);
    }
    // The holder kept one connection and its fds; every kill's leftovers are gone.
    await waitFor(() => status().standbyPid !== null && holderFds() === fdsBefore, 'the holder\'s fds back to where they were', 5000)
      .catch(() => expect(holderFds()).toBe(fdsBefore));
  }, 180_000);

  it('vtcon upgrade hands the connection to a new engine twice, byte-exact; a refused upgrade keeps the old engine', async () => {
    const { dir, control, status } = await startHeld('vtcon-upgrade-', '', [{ name: 'console', console: true }],
      (d) => ({ VTCON_TEST_REFUSE_STATE_FILE: join(d, 'refuse') }));
    const refuseFile = join(dir, 'refuse');
    const g = await guestPort(join(dir, 'vm1.vhost.sock'), 'console');
    cleanups.push(() => { void g.driver.detach().catch(() => undefined); });
    let stop = false;
    const sent: Buffer[] = [];
    let acked = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const l = line('console', i);
        sent.push(l);
        await g.write(l);
        acked = i + 1;
      }
    })();
    const moved = async (what: string) => { const m = acked; await waitFor(() => acked > m + 5, what, 30_000); };
    await moved('the stream to start');
    const pids: number[] = [status().engine!.pid];
    for (let u = 0; u < 2; u++) {
      const r = await cli(['--socket', control, 'upgrade', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { result: string; pid: number; previousPid: number };
      expect(out).toMatchObject({ result: 'done', previousPid: pids[pids.length - 1] });
      expect(out.pid).not.toBe(out.previousPid);
      pids.push(out.pid);
      await moved(`the stream to go on after upgrade ${u + 1}`);
    }
    writeFileSync(refuseFile, 'state format not understood (test)');
    const refused = await cli(['--socket', control, 'upgrade']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/upgrade refused: state format not understood \(test\); the old engine still serves/);
    expect(status().engine!.pid).toBe(pids[pids.length - 1]);
    await moved('the stream to go on after the refused upgrade');
    stop = true;
    await writer;
    expectSameBytes(readFileSync(join(dir, 'logs', 'vm1', 'console.log')), Buffer.concat(sent), 'console.log after two upgrades and a refused one');
  }, 180_000);

  it('a crash loop is bounded: the holder keeps the connection, `vtcon ls` says the engine is down, `vtcon upgrade` brings one back', async () => {
    const { dir, control, serve, status } = await startHeld('vtcon-crashloop-', '  maxEngineCrashes: 3\n', [{ name: 'console', console: true }]);
    const g = await guestPort(join(dir, 'vm1.vhost.sock'), 'console');
    cleanups.push(() => { void g.driver.detach().catch(() => undefined); });
    await g.write(Buffer.from('before\n'));
    // Three engines dead within seconds of taking over: the holder stops restarting them.
    for (let k = 0; k < 3; k++) {
      await waitFor(() => status().engineState === 'up', `an engine before kill ${k + 1}`, 30_000);
      process.kill(status().engine!.pid, 'SIGKILL');
      await waitFor(() => status().restarts === k + 1, `the holder to see kill ${k + 1}`, 30_000).catch((e: unknown) => { throw new Error(`${(e as Error).message}: ${JSON.stringify(status())}\n${serve.stderr().slice(-3000)}`); });
    }
    await waitFor(() => status().engineState === 'down', 'the engine reported down');
    expect(status()).toMatchObject({ engine: null, vms: [{ vm: 'vm1', connected: true }] });
    const ls = await cli(['--socket', control, 'ls']);
    expect(ls.code).toBe(3);
    expect(ls.stderr).toMatch(/the engine is down \(crash loop[^\n]*; the holder \(pid \d+\) keeps 1 of 1 VM connection\(s\)/);
    // The guest's next write waits (kept), and goes through once an engine is back.
    const pending = g.write(Buffer.from('after\n'));
    const up = await cli(['--socket', control, 'upgrade', '--json']);
    expect(up.code, up.stderr).toBe(0);
    await pending;
    expect(readFileSync(join(dir, 'logs', 'vm1', 'console.log'), 'utf8')).toBe('before\nafter\n');
  }, 180_000);
});
