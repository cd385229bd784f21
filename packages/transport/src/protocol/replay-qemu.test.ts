/**
 * Replay of what QEMU 11.1.3 sent to a vhost-user console back-end
 * (fixtures/qemu-11.1.3/default-protocol-features.log, copied from the project's shared fixtures;
 * see the README there): every REQ line
 * is rebuilt from its decoded fields (same codes, flags, sizes, fd counts, user addresses) and
 * sent by a raw client; the back-end's replies are decoded and checked against the transcript.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VhostUserBackend } from './backend.js';
import { EchoDevice } from './echo-device.js';
import { decodeMessage, encodeMessage } from './message.js';
import { decodeHeader } from './message-header.js';
import type { Payload } from './message-payload.js';
import { FrontendRequest, frontendRequestName } from './codes.js';
import { RawClient } from './test-raw-client.js';
import * as native from '../native.js';

const LOG = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/qemu-11.1.3/default-protocol-features.log');

interface Req { code: number; name: string; flags: number; size: number; fds: number; rest: string; reply?: string }

function parse(text: string): Req[] {
  const out: Req[] = [];
  for (const line of text.split('\n')) {
    const m = /REQ\s+(\d+) (\w+)\s+flags=0x([0-9a-f]+) size=(\d+) fds=(\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [rest, reply] = m[6]!.split(/\s*-> /);
    out.push({ code: Number(m[1]), name: m[2]!, flags: parseInt(m[3]!, 16), size: Number(m[4]), fds: Number(m[5]), rest: rest ?? '', reply });
  }
  return out;
}

const hex = (s: string, key: string): bigint => BigInt(new RegExp(`${key}=(0x[0-9a-f]+|\\d+)`).exec(s)![1]!);
const num = (s: string, key: string): number => Number(hex(s, key));
const qi = (s: string): number => Number(/q(\d+)/.exec(s)![1]);

function payloadOf(r: Req): Payload {
  const R = FrontendRequest;
  switch (r.code) {
    case R.SET_PROTOCOL_FEATURES: case R.SET_FEATURES: return { kind: 'u64', value: BigInt(r.rest.split(' ')[0]!) };
    case R.SET_VRING_CALL: case R.SET_VRING_ERR: case R.SET_VRING_KICK: return { kind: 'u64', value: BigInt(qi(r.rest)) };
    case R.GET_CONFIG: return { kind: 'config', config: { offset: num(r.rest, 'offset'), size: num(r.rest, 'size'), flags: 0, data: new Uint8Array(num(r.rest, 'size')) } };
    case R.SET_MEM_TABLE: {
      const regions = [...r.rest.matchAll(/\[gpa=(0x[0-9a-f]+) size=(0x[0-9a-f]+) uaddr=(0x[0-9a-f]+) off=(0x[0-9a-f]+)\]/g)]
        .map((g) => ({ guestPhysAddr: BigInt(g[1]!), memorySize: BigInt(g[2]!), userAddr: BigInt(g[3]!), mmapOffset: BigInt(g[4]!) }));
      return { kind: 'memTable', regions };
    }
    case R.SET_VRING_NUM: case R.SET_VRING_BASE: case R.SET_VRING_ENABLE: return { kind: 'vringState', state: { index: qi(r.rest), num: num(r.rest, 'num') } };
    case R.GET_VRING_BASE: return { kind: 'vringState', state: { index: qi(r.rest), num: 0 } };
    case R.SET_VRING_ADDR: return { kind: 'vringAddr', addr: { index: qi(r.rest), flags: num(r.rest, 'flags'),
      descUserAddr: hex(r.rest, 'desc'), usedUserAddr: hex(r.rest, 'used'), availUserAddr: hex(r.rest, 'avail'), logGuestAddr: hex(r.rest, 'log') } };
    default: return { kind: 'none' };
  }
}

let dir: string;
let backend: VhostUserBackend;
const errors: string[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vtcon-replay-'));
  const config = Uint8Array.from(Buffer.from('500019000200000000000000', 'hex')); // cols 80, rows 25, max_nr_ports 2
  backend = new VhostUserBackend({
    socketPath: join(dir, 'vu.sock'),
    // The transcript's device: features {0,1,32} (+30 added by the back-end), 6 queues, 12-byte config.
    createDevice: () => new EchoDevice({ queueCount: 6, features: 0x100000003n, config }),
    protocolFeatures: ['MQ', 'REPLY_ACK', 'CONFIG'], // what the recorded back-end offered (0x209)
    logger: { info() {}, warn() {}, debug() {}, error(o: unknown) { errors.push(JSON.stringify(o)); } },
  });
  backend.listen();
});
afterAll(async () => { await backend.close(); rmSync(dir, { recursive: true, force: true }); });

describe('replay of the QEMU 11.1.3 transcript (default protocol features)', () => {
  it('answers every request as the recorded back-end did', async () => {
    const reqs = parse(readFileSync(LOG, 'utf8'));
    expect(reqs.length).toBe(75); // the transcript SUMMARY line counts 75 requests
    // Guest RAM: one memfd (QEMU's RAM file) mapped by both regions at their offsets.
    const ram = native.memfdCreate('replay-ram');
    native.ftruncate(ram, 0x10000000);
    native.addSeals(ram, native.F_SEAL_SHRINK | native.F_SEAL_GROW | native.F_SEAL_SEAL); // QEMU's memory-backend-memfd default (seal=on)
    const c = new RawClient(backend.socketPath);
    await backend.waitForConnection();
    for (const r of reqs) {
      expect(frontendRequestName(r.code)).toBe(r.name);
      const payload = payloadOf(r);
      const bytes = encodeMessage({ request: r.code, flags: r.flags, payload });
      expect(bytes.byteLength - 12).toBe(r.size); // our encoding has QEMU's sizes
      const fds = r.code === FrontendRequest.SET_MEM_TABLE ? [ram, ram] : Array.from({ length: r.fds }, () => native.eventfdCreate());
      c.send(bytes, fds);
      if (r.code !== FrontendRequest.SET_MEM_TABLE) for (const fd of fds) native.close(fd);
      const wantsReply = r.reply !== undefined || (r.flags & 0x8) !== 0;
      if (!wantsReply) continue;
      const head = await c.read(12);
      expect(head.byteLength, `${r.name}: reply header`).toBe(12);
      const h = decodeHeader(head);
      const body = await c.read(h.size);
      const m = decodeMessage(h, body, [], 'reply');
      expect(h.request).toBe(r.code);
      expect(h.flags).toBe(0x5);
      if (r.reply === undefined) { expect(m.payload, `${r.name} ack`).toEqual({ kind: 'u64', value: 0n }); continue; }
      const want = r.reply.split(' ')[0]!;
      switch (m.payload.kind) {
        case 'u64': expect(m.payload.value, r.name).toBe(BigInt(want)); break;
        case 'config': expect(Buffer.from(m.payload.config.data).toString('hex')).toBe(want); break;
        // No guest ran here, so every ring stops where SET_VRING_BASE put it (QEMU's guest had moved q0 to 1, q1 to 21, ...).
        case 'vringState': expect(m.payload.state.index).toBe(qi(r.rest)); expect(m.payload.state.num).toBe(0); break;
        default: throw new Error(`unexpected reply kind ${m.payload.kind}`);
      }
    }
    native.close(ram);
    c.close();
    await backend.idle();
    expect(errors).toEqual([]);
  });
});
