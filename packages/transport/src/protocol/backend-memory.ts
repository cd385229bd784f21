/**
 * Guest memory requests: SET_MEM_TABLE (the whole table), GET_MAX_MEM_SLOTS, ADD_MEM_REG and
 * REM_MEM_REG (one region at a time, CONFIGURE_MEM_SLOTS). Running queues stop while the memory
 * they use is replaced or removed, and restart on the new table.
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
  s.memTable.setTable(regions, fds);
  for (const i of running) tryStart(s, i);
  return undefined;
}

export function getMaxMemSlots(s: SessionState): Reply {
  return { kind: 'u64', value: BigInt(s.memTable.maxSlots) };
}

export function addMemReg(s: SessionState, m: VhostUserMessage, region: MemoryRegionDescription): Reply {
  const fd = m.fds[0]!;
  m.fds.fill(-1); // ownership moves to the memory table (it closes it on failure)
  s.memTable.addRegion(region, fd);
  for (let i = 0; i < s.vrings.length; i++) tryStart(s, i);
  return undefined;
}

export async function remMemReg(s: SessionState, m: VhostUserMessage, region: MemoryRegionDescription): Promise<Reply> {
  for (const fd of m.fds) safeClose(fd); // spec: MAY come with one fd, which must be closed unused
  m.fds.fill(-1);
  const running = await stopAll(s);
  s.memTable.removeRegion(region);
  for (const i of running) tryStart(s, i);
  return undefined;
}
