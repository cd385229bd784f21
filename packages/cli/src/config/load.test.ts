import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.js';
import { parseConfig } from './load.js';

function problemsOf(text: string) {
  try {
    parseConfig(text, 'fleet.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).reason).toMatch(/^CONFIG_/);
    return (err as CliError).problems;
  }
  throw new Error('expected a config error');
}

describe('parseConfig', () => {
  it('applies defaults to a minimal YAML config', () => {
    const cfg = parseConfig('vms:\n  - name: web1\n    socket: /tmp/web1.sock\n    ports: [{name: console, console: true}]\n');
    expect(cfg.daemon.workers).toBe(2);
    expect(cfg.vms[0]!.sinks.scrollbackBytes).toBe(1024 * 1024);
    expect(cfg.vms[0]!.break).toBe('linux-sysrq');
    expect(cfg.vms[0]!.ports[0]).toEqual({ name: 'console', console: true });
  });

  it('accepts JSON', () => {
    const cfg = parseConfig(JSON.stringify({ vms: [{ name: 'a', socket: '/s', ports: [{ name: 'p' }] }] }));
    expect(cfg.vms[0]!.ports[0]!.console).toBe(false);
  });

  it('points a wrong type at the value line and column', () => {
    const text = 'vms:\n  - name: web1\n    socket: /tmp/web1.sock\n    ports:\n      - name: console\n        console: "yes"\n';
    const [p] = problemsOf(text);
    expect(p).toMatchObject({ file: 'fleet.yaml', line: 6, col: 18, field: 'vms[0].ports[0].console' });
  });

  it('points a missing field at the object that lacks it', () => {
    const [p] = problemsOf('vms:\n  - name: web1\n    ports: [{name: c}]\n');
    expect(p).toMatchObject({ line: 2, field: 'vms[0].socket', message: 'required field is missing' });
  });

  it('names an unknown key at its own position', () => {
    const [p] = problemsOf('daemon:\n  workers: 2\n  wrokers: 3\n');
    expect(p).toMatchObject({ line: 3, col: 3, field: 'daemon.wrokers' });
  });

  it('takes up to 127 ports per VM (vhost-user names 256 queues) and refuses 128 or 512, saying why', () => {
    const vm = (n: number, maxPorts?: number) => JSON.stringify({ vms: [{ name: 'a', socket: '/s', ...(maxPorts ? { maxPorts } : {}), ports: Array.from({ length: n }, (_, i) => ({ name: `p${i}` })) }] });
    expect(parseConfig(vm(127, 127)).vms[0]!.ports).toHaveLength(127);
    for (const max of [128, 512]) {
      const [p] = problemsOf(vm(1, max));
      expect(p).toMatchObject({ field: 'vms[0].maxPorts', message: expect.stringMatching(/at most 127: vhost-user names at most 256 queues/) });
    }
    const [p] = problemsOf(vm(128));
    expect(p).toMatchObject({ field: 'vms[0].ports', message: expect.stringMatching(/at most 127/) });
  });

  it('reports duplicate VM names on the second one', () => {
    const text = 'vms:\n  - {name: a, socket: /s1, ports: [{name: c}]}\n  - {name: a, socket: /s2, ports: [{name: c}]}\n';
    const [p] = problemsOf(text);
    expect(p).toMatchObject({ line: 3, field: 'vms[1].name' });
    expect(p!.message).toMatch(/duplicate VM name/);
  });

  it('reports YAML syntax errors with a position', () => {
    const [p] = problemsOf('vms:\n  - name: [unclosed\n');
    expect(p!.line).toBeGreaterThan(0);
  });

  it('formats problems as file:line:col: field: message', () => {
    try {
      parseConfig('daemon:\n  logLevel: loud\n', 'x.yaml');
    } catch (err) {
      expect((err as Error).message).toMatch(/^x\.yaml:2:13: daemon\.logLevel: /);
      return;
    }
    throw new Error('expected failure');
  });
});

describe('examples/fleet.yaml', () => {
  it('is a valid config', async () => {
    const { loadConfigFile } = await import('./load.js');
    const cfg = loadConfigFile(new URL('../../examples/fleet.yaml', import.meta.url).pathname);
    expect(cfg.vms.map((v) => v.name)).toEqual(['web1', 'bsd1']);
    expect(cfg.vms[1]!.break).toBe('freebsd-altbreak');
  });

  it('refuses a YAML alias bomb (billion laughs) as a config error with file:line', () => {
    const levels = ['a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + prev).join(',')}]`);
    }
    const [p] = problemsOf(levels.join('\n') + '\n');
    expect(p).toMatchObject({ file: 'fleet.yaml', line: 2, message: expect.stringMatching(/aliases expand too far/) });
  });
});
