// Shared per-invocation state for commands: the control socket to use and a connected client.
import { defaultControlSocket } from '../config/paths.js';
import { ControlClient } from '../control/client.js';

export interface GlobalOptions {
  socket?: string;
  color?: boolean;
}

export function controlSocket(opts: GlobalOptions): string {
  return opts.socket ?? defaultControlSocket();
}

export async function withClient<T>(opts: GlobalOptions, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(controlSocket(opts));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
