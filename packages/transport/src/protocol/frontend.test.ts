// The front-end role against a back-end that goes away: a request whose send fails rejects with
// the send's error, once, and leaves no unhandled rejection behind (regression: the pending reply
// it had registered was rejected by the close too, and nobody awaited it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { VhostUserFrontend } from './frontend.js';
import { FrontendRequest as R } from './codes.js';
import { accept, close, listenUnix } from '../native.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

it('a request on a connection the back-end closed rejects with SOCKET_ERROR and nothing else', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtcon-fe-'));
  dirs.push(dir);
  const path = join(dir, 'be.sock');
  const listener = listenUnix(path, 1);
  const fe = VhostUserFrontend.connect(path);
  let server: number | null = null;
  for (let i = 0; i < 100 && server === null; i++) { server = accept(listener); if (server === null) await new Promise((r) => setTimeout(r, 10)); }
  expect(server).not.toBeNull();
  close(server!); // the back-end is gone before the front-end's next request
  close(listener);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    // The first send may still land in the socket buffer; one of the next ones fails with EPIPE.
    let err: { reason?: string } | null = null;
    for (let i = 0; i < 5 && !err && !fe.isClosed; i++) {
      err = await fe.request(R.GET_FEATURES, { kind: 'none' }, { expectReply: true }).then(() => null, (e: { reason?: string }) => e);
    }
    expect(['SOCKET_ERROR', 'PEER_CLOSED', 'NOT_CONNECTED']).toContain(err?.reason);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    fe.close();
  }
});
