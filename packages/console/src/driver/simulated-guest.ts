/**
 * SimulatedGuest: a pretend VM on top of the seed driver model, for the CLI demo, tests and load.
 * Every port that appears prints a boot banner and a prompt, then behaves like a shell on a tty in
 * canonical mode with echo: characters are echoed, DEL/BS erase, CR or LF ends the line (echoed as
 * CRLF), a few commands answer (`stty size`, `uname`, `hostname`, `echo ...`), then a new prompt.
 */
import { EventEmitter } from 'node:events';
import type { VtconDriver, VtconPort } from './vtcon-driver.js';

export interface SimulatedGuestOptions {
  hostname?: string;
  /** Banner lines printed when a port appears; default a short kernel-ish boot log. */
  banner?: (port: VtconPort, hostname: string) => string;
  prompt?: string;
  /** Open every named port like a getty would (PORT_OPEN(1)); console ports are open anyway. */
  openPorts?: boolean;
}

export class SimulatedGuest extends EventEmitter<{ line: [port: VtconPort, line: string] }> {
  readonly hostname: string;
  private readonly lines = new Map<VtconPort, string>();
  private readonly started = new Set<VtconPort>();
  private readonly prompt: string;

  constructor(readonly driver: VtconDriver, private readonly opts: SimulatedGuestOptions = {}) {
    super();
    this.hostname = opts.hostname ?? 'vtcon-guest';
    this.prompt = opts.prompt ?? `${this.hostname}:~# `;
    // A port is ready to talk once it is a console (CONSOLE_PORT) or has its name: boot then.
    driver.on('console', (p) => this.boot(p));
    driver.on('name', (p) => {
      if ((this.opts.openPorts ?? true) && !p.console && !p.ttyOpen) void p.open().catch(() => {});
      this.boot(p);
    });
    driver.on('port-gone', (p) => { this.lines.delete(p); this.started.delete(p); });
  }

  private boot(p: VtconPort): void {
    if (this.started.has(p)) return;
    this.started.add(p);
    this.lines.set(p, '');
    p.on('data', (b) => this.input(p, b));
    // CONSOLE_PORT, RESIZE, PORT_NAME and PORT_OPEN usually arrive in one control batch: print
    // the banner after the batch, so it can show the port's name.
    setImmediate(() => this.printBanner(p));
  }

  private printBanner(p: VtconPort): void {
    if (p.gone || !this.started.has(p)) return;
    const banner = this.opts.banner?.(p, this.hostname)
      ?? `[    0.000000] Linux version 6.12.0-vtcon (simulated)\r\n[    0.420000] virtio_console: port ${p.id}${p.name ? ` (${p.name})` : ''}${p.console ? ' is the console' : ''}\r\n\r\nWelcome to ${this.hostname}\r\n`;
    void p.write(banner + this.prompt).catch(() => {});
  }

  private input(p: VtconPort, bytes: Uint8Array): void {
    let out = '';
    let line = this.lines.get(p) ?? '';
    for (const c of bytes) {
      if (c === 0x0d || c === 0x0a) {
        out += '\r\n';
        this.emit('line', p, line);
        const reply = this.run(p, line.trim());
        if (reply !== null) out += reply + '\r\n';
        out += this.prompt;
        line = '';
      } else if (c === 0x7f || c === 0x08) {
        if (line.length > 0) { line = line.slice(0, -1); out += '\b \b'; }
      } else if (c === 0x03) {
        out += '^C\r\n' + this.prompt; line = '';
      } else if (c >= 0x20 && c < 0x7f) {
        line += String.fromCharCode(c); out += String.fromCharCode(c);
      }
    }
    this.lines.set(p, line);
    if (out) void p.write(out).catch(() => {});
  }

  private run(p: VtconPort, cmd: string): string | null {
    if (cmd === '') return null;
    if (cmd === 'stty size') return p.size ? `${p.size.rows} ${p.size.cols}` : '24 80';
    if (cmd === 'uname' || cmd === 'uname -s') return 'Linux';
    if (cmd === 'hostname') return this.hostname;
    if (cmd === 'tty') return p.console ? '/dev/hvc0' : `/dev/vport0p${p.id}`;
    if (cmd.startsWith('echo ')) return cmd.slice(5);
    return `sh: ${cmd.split(/\s+/)[0]}: not found`;
  }
}
