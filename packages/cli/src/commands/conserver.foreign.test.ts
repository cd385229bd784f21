// vtcon's per-port attach socket as a conserver `uds` console (Debian's conserver-server and
// conserver-client): conserver connects to the socket as a raw client, its `console` client
// (in tmux) sees guest output and types input, and conserver's own log file records the session.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, serve, vmYaml, waitFor, type Served } from '../testing/binary.js';

const CONSERVER = '/usr/sbin/conserver';
const NEEDS = 'conserver is not installed: this test needs Debian\'s conserver-server, conserver-client and tmux; '
  + 'run `bash scripts/apt-deps.sh` from the repository root as root (or apt-get install conserver-server conserver-client tmux)';
const TMUX_SOCKET = `vtcon-conserver-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', TMUX_SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
const screen = () => tmux('capture-pane', '-p', '-J', '-t', 'c');

describe('conserver uds console on a vtcon attach socket', () => {
  let d: Served;
  let conserver: ChildProcess;
  let port: number;
  let logFile: string;

  beforeAll(async () => {
    if (!existsSync(CONSERVER)) throw new Error(NEEDS);
    d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    const attach = join(d.dir, 'vm1', 'console.sock');
    logFile = join(d.dir, 'conserver-vm1.log');
    const cf = join(d.dir, 'conserver.cf');
    writeFileSync(cf, [
      'config * { }',
      `default * { logfile ${join(d.dir, 'conserver-&.log')}; timestamp ""; rw *; }`,
      `console vm1 { master localhost; type uds; uds ${attach}; }`,
      'access * { trusted 127.0.0.1; allowed 127.0.0.1; }',
      '',
    ].join('\n'));
    writeFileSync(join(d.dir, 'conserver.passwd'), '*any*:\n');
    port = 20000 + (process.pid % 20000);
    conserver = spawn(CONSERVER, ['-C', cf, '-P', join(d.dir, 'conserver.passwd'), '-p', String(port), '-M', '127.0.0.1', '-a', 't'], { stdio: 'ignore' });
    await waitFor(() => {
      try {
        return execFileSync('console', ['-M', '127.0.0.1', '-p', String(port), '-u'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }).includes(' up ');
      } catch {
        return false;
      }
    }, 'conserver to bring the vtcon console up');
  });

  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // not started
    }
    conserver?.kill('SIGTERM');
    await d?.stop();
  });

  it('the console client sees output, types input, and conserver logs it', async () => {
    tmux('new-session', '-d', '-s', 'c', '-x', '100', '-y', '30', `console -M 127.0.0.1 -p ${port} vm1; sleep 30`);
    await waitFor(() => screen().includes('^Ec?'), 'the conserver client banner');
    tmux('send-keys', '-t', 'c', 'echo via-conserver', 'Enter');
    await waitFor(() => /^via-conserver\r?$/m.test(screen()), 'the guest echo through conserver');
    // vtcon counted conserver as an attached raw client, and the guest got the input.
    const who = JSON.parse(runCli(['who', 'vm1:console', '--json'], d.env).stdout) as { clients: { role: string; peer: string }[] };
    expect(who.clients).toHaveLength(1);
    expect(who.clients[0]!.role).toBe('writer');
    expect(runCli(['logs', 'vm1:console'], d.env).stdout).toContain('echo via-conserver\r\nvia-conserver\r\n');
    await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('via-conserver\r\n'), "conserver's log file");
    expect(readFileSync(logFile, 'utf8')).toContain('[-- Console up --');
    // conserver's escape ^Ec. disconnects the client; the vtcon port keeps running.
    tmux('send-keys', '-t', 'c', 'C-e', 'c', '.');
    await waitFor(() => !screen().includes('^Ec?') || screen().includes('disconnect'), 'the client to leave');
  });
});
