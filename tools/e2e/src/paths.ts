// Where tools/e2e/setup.sh put QEMU and the guest (tools/e2e/.cache/), and how to run that QEMU:
// through trixie's own loader and libraries, because the host's glibc is older than QEMU's.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface E2ePaths {
  cacheDir: string;
  /** trixie's dynamic loader, the program actually spawned */
  loader: string;
  libraryPath: string;
  qemuBinary: string;
  /** -L folders: QEMU's firmware (bios, option roms) inside the extracted packages */
  firmwareDirs: string[];
  qemuModuleDir: string;
  kernel: string;
  initrd: string;
  /** uname -r of the guest kernel, as setup.sh recorded it */
  kernelRelease: string;
}

/** Cache folder: VTCON_E2E_CACHE, or tools/e2e/.cache beside this package. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.VTCON_E2E_CACHE;
  if (fromEnv) return fromEnv;
  return join(dirname(fileURLToPath(import.meta.url)), '..', '.cache');
}

export function e2ePaths(cacheDir: string = defaultCacheDir()): E2ePaths {
  const qemuRoot = join(cacheDir, 'qemu');
  const guest = join(cacheDir, 'guest');
  const paths: E2ePaths = {
    cacheDir,
    loader: join(qemuRoot, 'usr/lib64/ld-linux-x86-64.so.2'),
    libraryPath: join(qemuRoot, 'usr/lib/x86_64-linux-gnu'),
    qemuBinary: join(qemuRoot, 'usr/bin/qemu-system-x86_64'),
    firmwareDirs: [join(qemuRoot, 'usr/share/qemu'), join(qemuRoot, 'usr/share/seabios')],
    qemuModuleDir: join(qemuRoot, 'usr/lib/x86_64-linux-gnu/qemu'),
    kernel: join(guest, 'vmlinuz'),
    initrd: join(guest, 'initramfs.cpio.gz'),
    kernelRelease: '',
  };
  const missing = [paths.loader, paths.qemuBinary, paths.kernel, paths.initrd].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `e2e machine not provisioned (missing ${missing.join(', ')}): run \`bash tools/e2e/setup.sh\` ` +
        '(or `npm run setup -w e2e`) first',
    );
  }
  const releaseFile = join(guest, 'kernel-release');
  paths.kernelRelease = existsSync(releaseFile) ? readFileSync(releaseFile, 'utf8').trim() : '';
  return paths;
}
