// A servicing pass is bounded in descriptors, not only in chains (chain-bound.ts,
// MAX_PASS_DESCRIPTORS): a guest may run one chain through its whole ring and name it from every
// avail slot. Each pass then takes one such chain and says there is more, on every path that pops.
import { DeviceQueue, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '@vtcon/ring';
import { makeTestQueue } from '@vtcon/ring/testing';
import { describe, expect, it } from 'vitest';
import { MAX_PASS_DESCRIPTORS } from './chain-bound.js';
import { fillReceiveq } from './receive.js';
import { CopyTarget, popReadableChains, transmitPass } from './transmit.js';

const SIZE = 2 * MAX_PASS_DESCRIPTORS;

/** A ring of SIZE whose one chain runs through every descriptor (empty buffers), named by every avail slot. */
function amplified(writable: boolean): DeviceQueue {
  const t = makeTestQueue({ size: SIZE, bytes: 1 << 20 });
  const buf = t.alloc.alloc(16, 16);
  const bytes = t.memory.view(t.config.descAddr, 16 * SIZE);
  const desc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < SIZE; i++) {
    const last = i === SIZE - 1;
    desc.setBigUint64(i * 16, BigInt(buf), true);
    desc.setUint32(i * 16 + 8, 0, true);
    desc.setUint16(i * 16 + 12, (last ? 0 : VIRTQ_DESC_F_NEXT) | (writable ? VIRTQ_DESC_F_WRITE : 0), true);
    desc.setUint16(i * 16 + 14, last ? 0 : i + 1, true);
  }
  t.memory.view(t.config.availAddr + 4, 2 * SIZE).fill(0);
  const idx = t.memory.view(t.config.availAddr + 2, 2);
  idx[0] = SIZE & 0xff; idx[1] = SIZE >> 8;
  return new DeviceQueue(t.memory, t.config);
}

describe('one chain through the whole ring from every avail slot: a pass takes one', () => {
  it('transmitPass (port transmitqs)', () => {
    const q = amplified(false);
    expect(transmitPass(q, new CopyTarget(), () => {}, 256, 1024)).toEqual({ chains: 1, more: true, error: null });
    expect(q.lastAvailIdx).toBe(1);
  });

  it('popReadableChains (the control transmitq)', () => {
    const q = amplified(false);
    const r = popReadableChains(q, 256, 128);
    expect({ copies: r.copies.length, more: r.more, error: r.error }).toEqual({ copies: 1, more: true, error: null });
  });

  it('fillReceiveq (port receiveqs): not starved, so the caller runs the next pass', () => {
    const q = amplified(true);
    const src = { bytes: 5, takeInto: () => 0 };
    expect(fillReceiveq(q, src, () => {}, 256)).toEqual({ bytes: 0, chains: 1, starved: false });
  });
});
