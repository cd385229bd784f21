/**
 * The attach socket file: created so that no client ever sees it with wider permissions than
 * 0600, never replacing a live socket or a non-socket, and removed only while it is still ours.
 */
import { chmod, lstat, rename, stat, unlink } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { ConsoleError } from '../errors.js';

let tmpCounter = 0;

/** Binds `server` under a temporary name, chmod 0600, then renames it onto `path`; returns the
 * socket file's inode (for removeIfOurs). */
export async function listenSocketFile(server: Server, path: string): Promise<number> {
  await assertReplaceable(path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpCounter}`);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
    return (await stat(path)).ino;
  } catch (e) {
    server.close();
    await unlink(tmp).catch(() => undefined);
    throw new ConsoleError('ATTACH_LISTEN_FAILED', `cannot listen on ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Removes the socket file if it is still the one we created (another server may own the path now). */
export async function removeIfOurs(path: string, ino: number): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (st && st.ino === ino) await unlink(path).catch(() => undefined);
}

/** Refuses to replace a live socket or a non-socket file; a stale socket may be replaced. */
async function assertReplaceable(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st) return;
  if (!st.isSocket()) throw new ConsoleError('ATTACH_PATH_NOT_SOCKET', `${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new ConsoleError('ATTACH_PATH_IN_USE', `${path} is served by a running process`);
}
