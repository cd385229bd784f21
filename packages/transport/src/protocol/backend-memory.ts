/**
 * Guest memory requests: SET_MEM_TABLE (the whole table), GET_MAX_MEM_SLOTS, ADD_MEM_REG and
 * REM_MEM_REG (one region at a time, CONFIGURE_MEM_SLOTS). Running queues stop around every
 * change and restart on the new table: a started queue holds the GuestMemory it started with, so
 * a region added under it (memory hot-plug) would be out of range for its chains. A refused
 * change leaves the old table, and the queues restart on it.
 */
import { safeClose } from '../socket/connection.js';
import type { VhostUserMessage } from './message.js';
import type { MemoryRegionDescription } from './message-memory.js';
import type { Reply, SessionState } from './backend-state.js';
import { stopAll, tryStart } from './backend-vring.js';

export async function setMemTable(s: SessionState, m: VhostUserMessage, regions: MemoryRegionDescription[]): Promise<Reply> {
  const fds = m.fds.slice();
  m.fds.fill(-1); // ownership moves to the memory table (it closes them on failure)
  let running: number[];
  try { running = await stopAll(s); } catch (e) { for (const fd of fds) safeClose(fd); throw e; }
  changeThenRestart(s, running, () => s.memTable.setTable(regions, fds));
  return undefined;
}

/** `change` the table, then restart `running` (on the old table if the change is refused). */
function changeThenRestart(s: SessionState, running: number[], change: () => void): void {
  try { change(); } catch (e) {
    for (const i of running) { try { tryStart(s, i); } catch { /* the change's error is the one to report */ } }
    throw e;
  }
  for (const i of running) tryStart(s, i);
}

export function getMaxMemSlots(s: SessionState): Reply {
  return { kind: 'u64', value: BigInt(s.memTable.maxSlots) };
}

export async function addMemReg(s: SessionState, m: VhostUserMessage, region: MemoryRegionDescription): Promise<Reply> {
  const fd = m.fds[0]!;
  m.fds.fill(-1); // ownership moves to the memory table (it closes it on failure)
  let running: number[];
  try { running = await stopAll(s); } catch (e) { safeClose(fd); throw e; }
  changeThenRestart(s, running, () => s.memTable.addRegion(region, fd));
  // Queues that waited for memory (QEMU adds its regions after setting some rings up).
  for (let i = 0; i < s.vrings.length; i++) tryStart(s, i);
  return undefined;
}

export async function remMemReg(s: SessionState, m: VhostUserMessage, region: MemoryRegionDescription): Promise<Reply> {
  for (const fd of m.fds) safeClose(fd); // spec: MAY come with one fd, which must be closed unused
  m.fds.fill(-1);
  const running = await stopAll(s);
  changeThenRestart(s, running, () => s.memTable.removeRegion(region));
  return undefined;
}
