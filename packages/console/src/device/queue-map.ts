/**
 * Virtqueue index ↔ port mapping (virtio 1.2 §5.3.2, and the seed's vtcon_alloc_virtqueues):
 * port 0 receiveq 0 / transmitq 1; with MULTIPORT the control receiveq 2 / transmitq 3; port N>0
 * receiveq 2N+2 / transmitq 2N+3. "receiveq" is device→driver (host→guest).
 */
export const CONTROL_RECEIVEQ = 2;
export const CONTROL_TRANSMITQ = 3;

export type QueueRole =
  | { kind: 'port'; port: number; dir: 'receiveq' | 'transmitq' }
  | { kind: 'control'; dir: 'receiveq' | 'transmitq' };

export function queueCount(maxPorts: number, multiport: boolean): number {
  return multiport ? 2 + 2 * maxPorts : 2;
}

export function receiveqOf(port: number): number { return port === 0 ? 0 : 2 * port + 2; }
export function transmitqOf(port: number): number { return port === 0 ? 1 : 2 * port + 3; }

export function roleOf(index: number): QueueRole {
  if (index === 0) return { kind: 'port', port: 0, dir: 'receiveq' };
  if (index === 1) return { kind: 'port', port: 0, dir: 'transmitq' };
  if (index === CONTROL_RECEIVEQ) return { kind: 'control', dir: 'receiveq' };
  if (index === CONTROL_TRANSMITQ) return { kind: 'control', dir: 'transmitq' };
  const port = Math.floor((index - 2) / 2);
  return { kind: 'port', port, dir: index % 2 === 0 ? 'receiveq' : 'transmitq' };
}
