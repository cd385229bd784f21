// `vtcon attach` in a real terminal: tmux (Debian's package) runs the built binary, we type with
// send-keys and read the screen with capture-pane.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, serve, vmYaml, waitFor, type Served } from '../testing/binary.js';

const TMUX_SOCKET = `vtcon-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', TMUX_SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
const screen = (target: string) => tmux('capture-pane', '-p', '-J', '-t', target);

describe('vtcon attach in tmux', () => {
  let d: Served;
  const env = () => `VTCON_SOCKET=${d.env.VTCON_SOCKET} NO_COLOR=1 TERM=xterm`;
  beforeAll(async () => {
    d = await serve((dir) => vmYaml(dir, 'vm1', [{ name: 'console', console: true }]));
    // remain-on-exit keeps the pane (and its last screen) after attach detaches.
    // The shell prints attach's exit status after it returns, then keeps the pane open.
    tmux('new-session', '-d', '-s', 'w', '-x', '100', '-y', '30', `${env()} ${process.execPath} ${BIN} attach vm1:console --replay 5; echo "[exit $?]"; sleep 60`);
    tmux('set-option', '-t', 'w', 'remain-on-exit', 'on');
    tmux('new-session', '-d', '-s', 'r', '-x', '100', '-y', '30', `${env()} ${process.execPath} ${BIN} attach vm1:console --read-only`);
    tmux('set-option', '-t', 'r', 'remain-on-exit', 'on');
  });
  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    await d?.stop();
  });

  it('shows the escape on entry and replays scrollback', async () => {
    await waitFor(() => screen('w').includes('Ctrl-] then . to detach'), 'the entry note');
    await waitFor(() => screen('w').includes('vm1:~#'), 'the replayed prompt');
  });

  it('echoes a typed line, and the spectator sees it too', async () => {
    tmux('send-keys', '-t', 'w', 'echo typed-in-tmux', 'Enter');
    await waitFor(() => /^typed-in-tmux$/m.test(screen('w')), 'the guest echo in the writer pane');
    await waitFor(() => /^typed-in-tmux$/m.test(screen('r')), 'the same output in the spectator pane');
  });

  it('resizing the pane resizes the guest console', async () => {
    // On entry the writer sent its size (100x30); a resize sends the new one (SIGWINCH).
    await waitFor(() => screen('w').includes('terminal is now 100x30'), 'the initial size');
    tmux('resize-window', '-t', 'w', '-x', '120', '-y', '40');
    await waitFor(() => screen('w').includes('terminal is now 120x40'), 'the guest reporting the new size');
    tmux('send-keys', '-t', 'w', 'stty size', 'Enter');
    await waitFor(() => /^40 120$/m.test(screen('w')), 'stty size in the guest');
  });

  it('who lists the writer and the spectator', () => {
    const r = runCli(['who', 'vm1:console', '--json'], d.env);
    const roles = (JSON.parse(r.stdout) as { clients: { role: string }[] }).clients.map((c) => c.role).sort();
    expect(roles).toEqual(['spectator', 'writer']);
  });

  it('the read-only spectator cannot type', async () => {
    tmux('send-keys', '-t', 'r', 'echo from-spectator', 'Enter');
    tmux('send-keys', '-t', 'w', 'echo after-spectator', 'Enter');
    await waitFor(() => /^after-spectator$/m.test(screen('w')), 'the writer\'s later line');
    expect(runCli(['logs', 'vm1:console'], d.env).stdout).not.toContain('from-spectator');
  });

  it('a second writer becomes a spectator and is told about --force', async () => {
    tmux('new-session', '-d', '-s', 'x', '-x', '100', '-y', '30', `${env()} ${process.execPath} ${BIN} attach vm1:console`);
    await waitFor(() => screen('x').includes('re-attach with --force to take over'), 'the downgrade note');
    expect(screen('x')).toContain('as spectator (read-only)');
    tmux('kill-session', '-t', 'x');
  });

  it('piped input is typed and attach ends with the input', () => {
    const r = runCli(['attach', 'vm1:console', '--force', '--replay', '0'], d.env, 'echo piped-line\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^piped-line\r$/m);
    expect(r.stderr).toContain('as writer');
  });

  it('Ctrl-] then . detaches', async () => {
    tmux('send-keys', '-t', 'w', 'C-]');
    tmux('send-keys', '-t', 'w', '.');
    await waitFor(() => screen('w').includes('[vtcon: detached from vm1:console]'), 'the detach note');
    await waitFor(() => screen('w').includes('[exit 0]'), 'attach to exit 0');
    process.stdout.write(`--- captured attach session (tmux capture-pane) ---\n${screen('w')}\n`);
  });
});
