import { describe, expect, it } from 'vitest';
import { consoleQueueCount, kernelCommandLine, qemuArgs } from './qemu-args.js';

const paths = { firmwareDirs: ['/fw'], kernel: '/k/vmlinuz', initrd: '/k/initrd' };

function optionAfter(args: string[], flag: string, prefix: string): string | undefined {
  for (let i = 0; i < args.length - 1; i++) if (args[i] === flag && args[i + 1]!.startsWith(prefix)) return args[i + 1];
  return undefined;
}

describe('consoleQueueCount', () => {
  it('is a queue pair for port 0, the control pair and one pair per further port', () => {
    expect(consoleQueueCount(1)).toBe(4);
    expect(consoleQueueCount(2)).toBe(6); // the recorded QEMU transcript: 2 ports, num_vqs=6
    expect(consoleQueueCount(31)).toBe(64);
    expect(() => consoleQueueCount(0)).toThrow(RangeError);
  });
});

describe('kernelCommandLine', () => {
  it('passes scenarios and parameters as vtcon.KEY=VALUE on a quiet serial console', () => {
    expect(kernelCommandLine({ scenario: ['ports', 'write-random'], args: { port: 'org.test.0', bytes: 1048576 } })).toBe(
      'console=ttyS0 loglevel=4 panic=-1 vtcon.test=ports,write-random vtcon.port=org.test.0 vtcon.bytes=1048576',
    );
    expect(kernelCommandLine({ scenario: 'shell', stay: true, kernelLog: true })).toBe(
      'console=ttyS0 loglevel=7 panic=-1 vtcon.test=shell vtcon.stay=1',
    );
  });

  it('rejects values the kernel would split or unquote', () => {
    expect(() => kernelCommandLine({ scenario: 'x', args: { port: 'a b' } })).toThrow(/without spaces/);
    expect(() => kernelCommandLine({ scenario: 'x', args: { port: '"a"' } })).toThrow(RangeError);
    expect(() => kernelCommandLine({ scenario: 'x', args: { test: 'y' } })).toThrow(/name/);
    expect(() => kernelCommandLine({ scenario: '../x' })).toThrow(/scenario/);
    expect(() => kernelCommandLine({ scenario: [] })).toThrow(RangeError);
  });
});

describe('qemuArgs', () => {
  it('boots without the console device when no socket is given', () => {
    const args = qemuArgs(paths, { scenario: 'info', serialLog: '/tmp/s.log' });
    expect(args.join(' ')).not.toMatch(/vhost-user/);
    expect(optionAfter(args, '-chardev', 'stdio')).toBe('stdio,id=ser0,signal=off,logfile=/tmp/s.log,logappend=off');
    expect(args.slice(-6)).toEqual(['-kernel', '/k/vmlinuz', '-initrd', '/k/initrd', '-append', 'console=ttyS0 loglevel=4 panic=-1 vtcon.test=info']);
    expect(args).toContain('-no-reboot');
  });

  it('adds the vhost-user console device with shared memory and 2*(ports+1) queues', () => {
    const args = qemuArgs(paths, { scenario: 'ports', serialLog: '/s', socketPath: '/run/vm1.sock', numPorts: 3, reconnectMs: 500 });
    expect(optionAfter(args, '-object', 'memory-backend-memfd')).toBe('memory-backend-memfd,id=mem,size=256M,share=on');
    expect(optionAfter(args, '-machine', 'q35')).toBe('q35,memory-backend=mem');
    expect(optionAfter(args, '-chardev', 'socket')).toBe('socket,id=vu,path=/run/vm1.sock,reconnect-ms=500');
    expect(optionAfter(args, '-device', 'vhost-user-test-device-pci')).toBe(
      'vhost-user-test-device-pci,chardev=vu,virtio-id=3,num_vqs=8,config_size=12',
    );
  });

  it('refuses a socket path QEMU would parse as more options', () => {
    expect(() => qemuArgs(paths, { scenario: 'x', serialLog: '/s', socketPath: '/a,b' })).toThrow(/","/);
  });
});
