// The guest's serial console as the host sees it: bytes from QEMU's stdio split into lines, and
// waits for a line matching a pattern. No I/O here: qemu.ts feeds it, tests feed it directly.

export interface LineMatch {
  match: RegExpMatchArray;
  /** index of the matching line in lines() */
  index: number;
}

export interface WaitOptions {
  timeoutMs?: number;
  /** only lines with index >= from are considered (default 0: everything seen so far counts) */
  from?: number;
}

interface Waiter {
  re: RegExp;
  from: number;
  resolve(m: LineMatch): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class SerialConsole {
  private readonly complete: string[] = [];
  private partial = '';
  private text = '';
  private closedReason: string | null = null;
  private readonly waiters = new Set<Waiter>();

  /** Bytes as they arrive. The guest tty turns \n into \r\n; \r is dropped. */
  push(chunk: string): void {
    this.text += chunk;
    const parts = (this.partial + chunk).replace(/\r/g, '').split('\n');
    this.partial = parts.pop() ?? '';
    const first = this.complete.length;
    this.complete.push(...parts);
    if (parts.length > 0) this.scan(first);
  }

  /** No more output will come (QEMU exited): pending waits fail with the reason. */
  close(reason: string): void {
    if (this.partial !== '') {
      this.complete.push(this.partial);
      this.partial = '';
      this.scan(this.complete.length - 1);
    }
    this.closedReason = reason;
    for (const w of this.waiters) this.fail(w, `${reason} before a serial line matched ${w.re}`);
  }

  /** Complete lines so far. */
  lines(): readonly string[] {
    return this.complete;
  }

  /** Everything received, as received. */
  output(): string {
    return this.text;
  }

  /** The first line (index >= from) matching re; waits for it if it has not arrived yet. */
  waitFor(re: RegExp, opts: WaitOptions = {}): Promise<LineMatch> {
    const from = opts.from ?? 0;
    const found = this.find(re, from);
    if (found) return Promise.resolve(found);
    if (this.closedReason !== null) {
      return Promise.reject(new Error(`${this.closedReason} before a serial line matched ${re}`));
    }
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise<LineMatch>((resolve, reject) => {
      const w: Waiter = {
        re, from, resolve, reject,
        timer: setTimeout(() => this.fail(w, `no serial line matched ${re} within ${timeoutMs} ms`), timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  private find(re: RegExp, from: number): LineMatch | null {
    for (let i = from; i < this.complete.length; i++) {
      const match = this.complete[i]!.match(re);
      if (match) return { match, index: i };
    }
    return null;
  }

  private scan(first: number): void {
    for (const w of this.waiters) {
      const found = this.find(w.re, Math.max(first, w.from));
      if (found) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(found);
      }
    }
  }

  private fail(w: Waiter, message: string): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    w.reject(new Error(message));
  }
}
