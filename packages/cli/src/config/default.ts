// The embedded config `vtcon demo` runs when given no --config: N simulated guests with P ports
// each, every socket inside a fresh temporary runtime dir so the demo never collides with a real
// daemon.
import { join } from 'node:path';
import { configSchema, MAX_PORTS, type Config } from './schema.js';

export function demoConfig(opts: { runtimeDir: string; guests: number; ports: number; workers?: number }): Config {
  const vms = Array.from({ length: opts.guests }, (_, i) => {
    const name = `demo${i + 1}`;
    const ports = [{ name: 'console', console: true }];
    for (let p = 1; p < opts.ports; p++) ports.push({ name: `serial${p}`, console: false });
    return {
      name,
      socket: join(opts.runtimeDir, `${name}.vhost.sock`),
      ports,
      maxPorts: Math.min(MAX_PORTS, Math.max(opts.ports + 2, 4)),
      sinks: { logDir: join(opts.runtimeDir, 'logs'), timestamps: true },
    };
  });
  return configSchema.parse({
    daemon: {
      control: join(opts.runtimeDir, 'control.sock'),
      runtimeDir: opts.runtimeDir,
      logLevel: 'warn',
      workers: opts.workers ?? 2,
    },
    vms,
  });
}
