#!/usr/bin/env node
// Runnable example: a vhost-user back-end serving the echo device, and a front-end (simulated
// guest) that pushes 8 MiB through it in 4 KiB chains and checks the SHA-256 of what came back.
//   npm run build && node examples/echo.mjs [socket-path]
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackend, VhostUserFrontend } from '../dist/index.js';
import { EchoDevice, EchoTransfer } from '../dist/testing.js';

const socketPath = process.argv[2] ?? join(tmpdir(), `vtcon-echo-${process.pid}.sock`);
const log = { info: (o, m) => console.log('backend:', m, JSON.stringify(o)), warn: console.warn, error: console.error, debug() {} };
const backend = new VhostUserBackend({ socketPath, createDevice: () => new EchoDevice(), logger: log });
backend.listen();

const fe = VhostUserFrontend.connect(socketPath);
const n = await fe.negotiate({ memory: [1 << 20, 8 << 20] });
console.log(`front-end: features 0x${n.features.toString(16)}, protocol features 0x${n.protocolFeatures.toString(16)}, ${n.queueNum} queues`);
for (const q of [0, 1]) await fe.setupQueue(q, 256);
for (const q of [0, 1]) await fe.enableQueue(q);

const t = new EchoTransfer({ totalBytes: 8 << 20 });
const t0 = performance.now();
t.attach(fe);
const r = await t.done;
console.log(`echoed ${r.receivedBytes} bytes in ${(performance.now() - t0).toFixed(0)} ms; checksums ${r.sentSha256 === r.receivedSha256 ? 'match' : 'DIFFER'}`);
fe.close();
await backend.close();
