#!/usr/bin/env node
// Runnable example: inflight tracking across a back-end crash. A back-end child process (this
// file with --backend) serves the echo device; it SIGKILLs itself after 500 echoed chains. The
// front-end (simulated guest) keeps its RAM, rings and inflight buffer, starts a new back-end,
// reattaches (SET_INFLIGHT_FD, rings from used.idx, as QEMU does) and the transfer completes.
//   npm run build && node examples/crash-restart.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VhostUserBackend, VhostUserFrontend } from '../dist/index.js';
import { EchoDevice, EchoTransfer } from '../dist/testing.js';

if (process.argv[2] === '--backend') {
  const [socketPath, killAfter] = [process.argv[3], Number(process.argv[4])];
  let n = 0;
  const backend = new VhostUserBackend({
    socketPath,
    // rxPool: receive buffers held and filled out of order; only inflight tracking restarts that losslessly.
    createDevice: () => new EchoDevice({ rxPool: 8, onEcho: () => { if (++n === killAfter) process.kill(process.pid, 'SIGKILL'); } }),
  });
  backend.listen();
  process.stdout.write('listening\n');
  process.on('SIGTERM', () => { console.error(`back-end ${process.pid}: echoed ${n} chains`); void backend.close().then(() => process.exit(0)); });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-crash-'));
  const sock = join(dir, 'vm.sock');
  const startBackend = async (killAfter) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--backend', sock, String(killAfter)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(p.stdout, 'data');
    return p;
  };
  const start = async (fe, reuse) => {
    await fe.negotiate({ memory: [1 << 20, 4 << 20] });
    await fe.setupInflight(2, 256);
    for (const q of [0, 1]) await fe.setupQueue(q, 256, reuse ? { reuse: true, base: fe.usedIdx(q) } : {});
    for (const q of [0, 1]) await fe.enableQueue(q);
  };

  const t = new EchoTransfer({ totalBytes: 8 << 20 });
  const first = await startBackend(500);
  let fe = VhostUserFrontend.connect(sock);
  await start(fe, false);
  t.attach(fe);
  const [, signal] = await once(first, 'exit');
  console.log(`back-end ${first.pid} died (${signal}) after ${t.receivedBytes} bytes came back`);
  t.detach();
  fe.detach();

  const second = await startBackend(0);
  fe = VhostUserFrontend.reattach(fe, sock);
  await start(fe, true);
  t.attach(fe);
  const r = await t.done;
  console.log(`echoed ${r.receivedBytes} of ${r.sentBytes} bytes in ${r.chains} chains; checksums ${r.sentSha256 === r.receivedSha256 ? 'match' : 'DIFFER'}`);
  fe.close();
  second.kill('SIGTERM');
  await once(second, 'exit');
  rmSync(dir, { recursive: true, force: true });
}
