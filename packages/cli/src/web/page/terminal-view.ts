// One console in the page: an xterm.js terminal on a WebSocket to /ws/console (protocol in
// ../console-bridge.ts). The terminal's write queue is bounded: past HIGH bytes not yet parsed
// the page asks the server to pause this stream, and to resume below LOW, so a flooding guest
// cannot make the page freeze or grow without bound.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';

const HIGH = 512 * 1024;
const LOW = 64 * 1024;
const encoder = new TextEncoder();

export interface TerminalHooks {
  onLogs(vm: string, port: string): void;
  onClose(view: TerminalView): void;
}

export class TerminalView {
  readonly el: HTMLElement;
  readonly term: Terminal;
  /** Console output bytes received (for the figures the browser test reports). */
  bytes = 0;
  role: 'writer' | 'spectator' | null = null;
  private ws: WebSocket | null = null;
  private readonly fit = new FitAddon();
  private readonly status: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly breakButton: HTMLButtonElement;
  private readonly observer: ResizeObserver;
  private pending = 0;
  private paused = false;
  private closed = false;

  constructor(readonly vm: string, readonly port: string, parent: HTMLElement, private readonly hooks: TerminalHooks) {
    this.el = document.createElement('article');
    this.el.className = 'term';
    this.el.dataset.target = `${vm}:${port}`;
    const header = document.createElement('header');
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = `${vm}:${port}`;
    this.badge = document.createElement('span');
    this.badge.className = 'badge';
    this.status = document.createElement('span');
    this.status.className = 'status';
    this.breakButton = button('break', 'send the VM\'s break sequence (sysrq / altbreak)', () => this.send({ type: 'break' }));
    this.breakButton.disabled = true;
    header.append(title, this.badge, this.status, this.breakButton, button('logs', 'search and download this port\'s log', () => hooks.onLogs(vm, port)),
      button('×', 'close this terminal', () => this.close()));
    const screen = document.createElement('div');
    screen.className = 'screen';
    this.el.append(header, screen);
    parent.append(this.el);

    this.term = new Terminal({ scrollback: 5000, fontSize: 13, cursorBlink: true, disableStdin: true });
    this.term.loadAddon(this.fit);
    this.term.open(screen);
    this.term.onData((d) => this.sendInput(encoder.encode(d)));
    this.term.onBinary((d) => this.sendInput(Uint8Array.from(d, (ch) => ch.charCodeAt(0) & 0xff)));
    this.term.onResize(({ cols, rows }) => this.send({ type: 'resize', cols, rows }));
    this.observer = new ResizeObserver(() => this.refit());
    this.observer.observe(screen);
    this.refit();
    this.connect(200);
  }

  private refit(): void {
    if (this.closed) return;
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  private connect(replay: number): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const q = new URLSearchParams({ vm: this.vm, port: this.port, replay: String(replay) });
    const ws = new WebSocket(`${scheme}://${location.host}/ws/console?${q}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.pending = 0;
    this.paused = false;
    this.setStatus('connecting');
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data === 'string') this.onControl(ev.data);
      else this.onOutput(new Uint8Array(ev.data));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.role = null;
      this.term.options.disableStdin = true;
      this.breakButton.disabled = true;
      if (!this.closed && this.status.textContent === 'live') this.setStatus('disconnected');
    };
  }

  private onControl(text: string): void {
    const msg = JSON.parse(text) as { type: string; role?: 'writer' | 'spectator'; writer?: string | null; reason?: string; message?: string };
    if (msg.type === 'hello') {
      this.role = msg.role ?? 'spectator';
      const writer = this.role === 'writer';
      this.badge.textContent = writer ? 'writer' : 'read-only';
      this.badge.classList.toggle('read-only', !writer);
      this.el.dataset.role = this.role;
      this.term.options.disableStdin = !writer;
      this.breakButton.disabled = !writer;
      this.setStatus('live');
      // The guest learns our size now that we may set it.
      if (writer) this.send({ type: 'resize', cols: this.term.cols, rows: this.term.rows });
    } else if (msg.type === 'closed') {
      if (msg.reason === 'slow') {
        // The daemon dropped this browser as too slow: start over from a short replay.
        this.setStatus('fell behind; reconnecting');
        setTimeout(() => {
          if (this.closed) return;
          this.term.reset();
          this.connect(50);
        }, 500);
      } else this.setStatus(msg.reason === 'refused' ? `refused: ${msg.message ?? ''}` : 'console closed');
    }
  }

  private onOutput(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    this.pending += bytes.length;
    this.term.write(bytes, () => {
      this.pending -= bytes.length;
      if (this.paused && this.pending < LOW) {
        this.paused = false;
        this.send({ type: 'resume' });
      }
    });
    if (!this.paused && this.pending > HIGH) {
      this.paused = true;
      this.send({ type: 'pause' });
    }
  }

  private sendInput(bytes: Uint8Array): void {
    if (this.role !== 'writer' || this.ws?.readyState !== WebSocket.OPEN) return;
    // The server's frame limit is 64 KiB; split a large paste.
    for (let i = 0; i < bytes.length; i += 32 * 1024) this.ws.send(bytes.subarray(i, i + 32 * 1024));
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
    this.el.dataset.status = text;
  }

  close(): void {
    this.closed = true;
    this.observer.disconnect();
    this.ws?.close();
    this.term.dispose();
    this.el.remove();
    this.hooks.onClose(this);
  }
}

function button(text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}
