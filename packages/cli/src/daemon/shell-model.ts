// A tiny line-oriented "shell" that simulated guests run on their console port: a boot banner,
// echo of typed characters (like a tty in cooked mode with ECHO), and a few commands so tests
// and demo users can see input reach the guest and the guest's view of its terminal size.
// Pure: bytes in, bytes out; no I/O.

const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;
const DEL = 0x7f;

export class ShellModel {
  private line = '';
  private cols = 80;
  private rows = 25;

  constructor(private readonly host: string, private readonly port: string) {}

  prompt(): string {
    return `${this.host}:~# `;
  }

  banner(): string {
    return `[    0.000000] vtcon simulated guest (in-process, no virtio)\r\n` +
      `[    0.000001] port ${this.port}\r\n\r\nWelcome to ${this.host}\r\n${this.prompt()}`;
  }

  /** Guest's reaction to a size change (what a shell would do on SIGWINCH). */
  resize(cols: number, rows: number): string {
    this.cols = cols;
    this.rows = rows;
    return `\r\n[${this.host}: terminal is now ${cols}x${rows}]\r\n${this.prompt()}${this.line}`;
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.cols, rows: this.rows };
  }

  /** Bytes typed by the host; returns what the guest writes back. */
  input(data: Uint8Array): string {
    let out = '';
    for (const b of data) {
      if (b === CR || b === LF) {
        out += '\r\n' + this.run(this.line.trim());
        this.line = '';
        out += this.prompt();
      } else if (b === BS || b === DEL) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          out += '\b \b';
        }
      } else if (b >= 0x20 && b < 0x7f && this.line.length < 4096) {
        const ch = String.fromCharCode(b);
        this.line += ch;
        out += ch;
      } else if (b === 0x0f) {
        out += '^O';
      }
    }
    return out;
  }

  private run(cmd: string): string {
    const [name, ...args] = cmd.split(/\s+/);
    switch (name) {
      case '':
      case undefined:
        return '';
      case 'help':
        return 'commands: echo TEXT, stty size, uname, seq N, help\r\n';
      case 'echo':
        return args.join(' ') + '\r\n';
      case 'stty':
        return args[0] === 'size' ? `${this.rows} ${this.cols}\r\n` : 'usage: stty size\r\n';
      case 'uname':
        return `vtcon-sim ${this.host}\r\n`;
      case 'seq': {
        const n = Math.min(Math.max(0, Number(args[0]) || 0), 100_000);
        let s = '';
        for (let i = 1; i <= n; i++) s += `${i}\r\n`;
        return s;
      }
      default:
        return `${name}: command not found\r\n`;
    }
  }
}
