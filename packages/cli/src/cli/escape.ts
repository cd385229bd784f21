// The attach escape: ESC-CHAR then '.' detaches (like ssh's ~. and telnet's Ctrl-]). Pressing
// ESC-CHAR twice sends it once; ESC-CHAR followed by anything else sends both bytes.
import { CliError } from '../errors.js';

/** '^]' → 0x1d, '^A' → 0x01, 'x' → 0x78. */
export function parseEscape(spec: string): number {
  if (/^\^[@-_a-z?]$/.test(spec)) {
    const ch = spec[1]!.toUpperCase();
    return ch === '?' ? 0x7f : ch.charCodeAt(0) - 0x40;
  }
  if (spec.length === 1) return spec.charCodeAt(0);
  throw new CliError('USAGE', `--escape "${spec}" is not a single character or ^X`, { hint: 'for example --escape "^]" (the default) or --escape "^A"' });
}

export function describeEscape(code: number): string {
  if (code < 0x20) return `Ctrl-${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return 'Ctrl-?';
  return String.fromCharCode(code);
}

export class EscapeFilter {
  private armed = false;
  constructor(private readonly escape: number) {}

  /** Returns the bytes to forward and whether the user asked to detach. */
  push(input: Uint8Array): { forward: Uint8Array; detach: boolean } {
    const out: number[] = [];
    for (const b of input) {
      if (this.armed) {
        this.armed = false;
        if (b === 0x2e /* . */) return { forward: Uint8Array.from(out), detach: true };
        out.push(this.escape);
        if (b !== this.escape) out.push(b);
      } else if (b === this.escape) {
        this.armed = true;
      } else out.push(b);
    }
    return { forward: Uint8Array.from(out), detach: false };
  }
}
