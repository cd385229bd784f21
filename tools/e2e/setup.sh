#!/usr/bin/env bash
# Provisions the end-to-end test machine under tools/e2e/.cache/ (git-ignored), from Debian's archive:
#   qemu/    QEMU 11 (qemu-system-x86 from trixie-backports) and its whole library closure, extracted
#            with dpkg-deb -x into one folder; it runs through trixie's own loader (bin/qemu-system-x86_64
#            is the wrapper), so the host (Debian 12, older glibc) is left untouched.
#   guest/   trixie's kernel (vmlinuz; virtio_console, virtio_pci and devtmpfs are built in) and an
#            initramfs: trixie's static busybox + guest/init + guest/scenarios/*.sh.
#   apt/     a private apt state (sources, lists, downloaded .debs); the host's apt is never touched.
# Idempotent: each part carries a stamp of what it was built from and is rebuilt only when that
# changes, so a second run does no network access and takes seconds.
# Versions: tools/e2e/versions.lock, when present, is installed exactly. Debian's backports archive
# keeps only the newest build, so when a locked version is gone the newest one is taken instead
# (for QEMU only within the locked upstream series, e.g. 11.1.x; another series stops setup),
# the lock is rewritten to it and one line says so. `setup.sh --update-lock` re-pins on purpose.
# What was used is always written to .cache/versions.txt and printed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
lock="$here/versions.lock"
apt_root="$cache/apt"
qemu_root="$cache/qemu"
guest_out="$cache/guest"
mirror="${VTCON_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${VTCON_E2E_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
update_lock=0
[ "${1:-}" = "--update-lock" ] && update_lock=1

t0=$(date +%s.%N)
die() { printf '[e2e setup] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[e2e setup %ss] %s\n' "$(elapsed)" "$*"; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported (QEMU and the guest are amd64 packages)"
for tool in apt-get apt-cache dpkg-deb tar gzip sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found: setup needs a Debian-family host (apt, dpkg)"
done
[ -r "$keyring" ] || die "$keyring missing: install debian-archive-keyring (it signs trixie too)"

# ---------------------------------------------------------------------------------------------
# Lock file: lines "<role> <package> <version>", role is qemu | kernel | busybox.
lock_lines() { [ -f "$lock" ] && grep -E "^$1 " "$lock" | awk '{ print $2 "=" $3 }' || true; }

# ---------------------------------------------------------------------------------------------
# Private apt state (scripts/lib/private-apt.sh): trixie, trixie-updates, -security, -backports.
apt_ready=0
apt_init() {
  [ "$apt_ready" = 1 ] && return
  . "$here/../../scripts/lib/private-apt.sh"
  private_apt_config "$apt_root"
  cat >"$apt_root/etc/apt/sources.list.d/trixie.sources" <<EOF
Types: deb
URIs: $mirror
Suites: trixie trixie-updates trixie-backports
Components: main
Signed-By: $keyring

Types: deb
URIs: $security_mirror
Suites: trixie-security
Components: main
Signed-By: $keyring
EOF
  log "apt-get update (private state: trixie, trixie-updates, trixie-security, trixie-backports)"
  apt-get -q update >"$apt_root/update.log" 2>&1 || { cat "$apt_root/update.log" >&2; die "apt-get update failed (network? $mirror)"; }
  apt_ready=1
}

# Name and version of a .deb, as "name version".
deb_id() { dpkg-deb -f "$1" Package Version | awk -F': ' '{ printf "%s ", $2 } END { print "" }' | sed 's/ $//'; }

# ---------------------------------------------------------------------------------------------
# QEMU
qemu_bin="$qemu_root/usr/bin/qemu-system-x86_64"
qemu_loader="$qemu_root/usr/lib64/ld-linux-x86-64.so.2"
qemu_libs="$qemu_root/usr/lib/x86_64-linux-gnu"
qemu_stamp="$qemu_root/.complete"

# Cached parts are reused when the lock (if any) lists exactly what is installed.
# After a fallback (locked versions gone from the archive) the stamp remembers that lock, so
# later runs warn again instead of downloading again; --update-lock ends it.
lock_matches() { # role installed-list-file
  [ -f "$2" ] || return 1
  [ -f "$lock" ] || return 0
  [ "$(lock_lines "$1" | sort)" = "$(awk -v r="$1" '$1 == r { print $2 "=" $3 }' "$2" | sort)" ] && return 0
  if [ "$(sed -n "s/^fallback-from //p" "$2.$1.fallback" 2>/dev/null)" = "$(lock_lines "$1" | sort | sha256sum | cut -c1-16)" ]; then
    echo "[e2e setup] WARNING: $1 differs from $lock (locked versions no longer in the archive); run setup.sh --update-lock" >&2
    return 0
  fi
  return 1
}
note_fallback() { # role stamp-file
  echo "fallback-from $(lock_lines "$1" | sort | sha256sum | cut -c1-16)" >"$2.$1.fallback"
}

provision_qemu() {
  if [ -x "$qemu_bin" ] && lock_matches qemu "$qemu_stamp"; then
    log "QEMU: cached"
    return
  fi
  apt_init
  local debs="$apt_root/var/cache/apt/archives"
  rm -f "$debs"/*.deb
  local pinned fell_back=0
  pinned="$(lock_lines qemu)"
  if [ -n "$pinned" ]; then
    log "QEMU: downloading the locked closure ($(echo "$pinned" | wc -l) packages)"
    # shellcheck disable=SC2086
    if ! apt-get -q -y install --download-only $pinned >"$apt_root/qemu.log" 2>&1; then
      pinned=""
      fell_back=1
    fi
  fi
  if [ -z "$pinned" ]; then
    # The locked upstream series (11.1 from 1:11.1.3+ds-1~bpo13+1), if any: only a build of it may replace the lock's.
    local locked series newest
    locked="$(awk '$1 == "qemu" && $2 == "qemu-system-x86" { print $3 }' "$lock" 2>/dev/null || true)"
    series="$(echo "$locked" | sed -E 's/^([0-9]+:)?([0-9]+\.[0-9]+)\..*/\2/')"
    newest="$(apt-cache madison qemu-system-x86 | awk -F' [|] ' '$3 ~ /trixie-backports/ { print $2; exit }')"
    if [ -n "$series" ]; then
      case "$newest" in
        "$series".*|*:"$series".*) ;;
        *) die "the archive serves qemu-system-x86 $newest, not $series.x as $lock pins: check it against vtcon, then run setup.sh --update-lock" ;;
      esac
      log "QEMU: $locked is no longer served; taking $newest (the newest $series.x) and re-pinning $lock"
      update_lock=1
    fi
    log "QEMU: resolving qemu-system-x86 from trixie-backports and downloading its closure"
    apt-get -q -y -t trixie-backports install --download-only qemu-system-x86 >"$apt_root/qemu.log" 2>&1 \
      || { cat "$apt_root/qemu.log" >&2; die "could not download qemu-system-x86 from trixie-backports"; }
  fi
  local n
  n=$(find "$debs" -maxdepth 1 -name '*.deb' | wc -l)
  [ "$n" -gt 0 ] || die "apt downloaded no .deb for qemu-system-x86"
  log "QEMU: extracting $n packages"
  rm -rf "$qemu_root"
  mkdir -p "$qemu_root"
  local f
  local ids="$cache/qemu.ids"
  : >"$ids"
  for f in "$debs"/*.deb; do
    dpkg-deb -x "$f" "$qemu_root"
    echo "qemu $(deb_id "$f")" >>"$ids"
  done
  rm -f "$debs"/*.deb
  [ -x "$qemu_loader" ] || die "trixie's loader not found at $qemu_loader (libc6 layout changed?)"
  [ -x "$qemu_bin" ] || die "qemu-system-x86_64 not found in the extracted packages"
  sort "$ids" >"$qemu_stamp" && rm -f "$ids"
  if [ "$fell_back" = 1 ]; then note_fallback qemu "$qemu_stamp"; fi
}

write_qemu_wrapper() {
  mkdir -p "$cache/bin"
  cat >"$cache/bin/qemu-system-x86_64" <<EOF
#!/bin/sh
# Generated by tools/e2e/setup.sh: runs the extracted QEMU through trixie's loader and libraries.
# exec keeps QEMU's pid the wrapper's pid, so signals reach QEMU itself.
root="$qemu_root"
export QEMU_MODULE_DIR="\$root/usr/lib/x86_64-linux-gnu/qemu"
exec "\$root/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$root/usr/lib/x86_64-linux-gnu" \\
  "\$root/usr/bin/qemu-system-x86_64" -L "\$root/usr/share/qemu" -L "\$root/usr/share/seabios" "\$@"
EOF
  chmod +x "$cache/bin/qemu-system-x86_64"
}

check_qemu() {
  local out
  out="$("$cache/bin/qemu-system-x86_64" -device help 2>&1)" || { echo "$out" | tail -5 >&2; die "the extracted QEMU does not run"; }
  if ! grep -q '"vhost-user-test-device-pci"' <<<"$out"; then
    die "this QEMU ($("$cache/bin/qemu-system-x86_64" --version | head -1)) has no vhost-user-test-device-pci device (needs QEMU >= 10.2; trixie-backports has 11.x). Delete $cache and re-run, or check versions.lock."
  fi
  "$cache/bin/qemu-system-x86_64" -object help 2>&1 | grep -qw memory-backend-memfd \
    || die "this QEMU has no memory-backend-memfd (vhost-user needs shared guest RAM)"
}

# ---------------------------------------------------------------------------------------------
# Kernel and busybox (the guest)
guest_stamp="$guest_out/.complete"

provision_guest_packages() {
  if [ -f "$guest_out/vmlinuz" ] && [ -x "$guest_out/busybox" ] \
    && lock_matches kernel "$guest_stamp" && lock_matches busybox "$guest_stamp"; then
    log "kernel + busybox: cached"
    return
  fi
  apt_init
  local dl="$apt_root/guest-debs"
  rm -rf "$dl" && mkdir -p "$dl"
  local kernel busybox fell_back=0
  kernel="$(lock_lines kernel)"
  busybox="$(lock_lines busybox)"
  if [ -n "$kernel$busybox" ]; then
    log "kernel + busybox: downloading the locked versions ($kernel $busybox)"
    if ! (cd "$dl" && apt-get -q download $kernel $busybox) >"$apt_root/guest.log" 2>&1; then
      log "kernel + busybox: $kernel / $busybox no longer served; taking the newest and re-pinning $lock"
      rm -f "$dl"/*.deb
      kernel="" busybox="" fell_back=1 update_lock=1
    fi
  fi
  if [ -z "$kernel$busybox" ]; then
    # linux-image-amd64 is trixie's metapackage; its dependency names the current 6.12 image.
    kernel="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.12\.[^ ]*-amd64\)$/\1/p' | head -1)"
    [ -n "$kernel" ] || die "could not find trixie's linux-image-6.12.*-amd64 (apt-cache depends linux-image-amd64)"
    log "kernel + busybox: downloading $kernel and busybox-static (trixie)"
    (cd "$dl" && apt-get -q download "$kernel" busybox-static) >"$apt_root/guest.log" 2>&1 \
      || { cat "$apt_root/guest.log" >&2; die "could not download $kernel / busybox-static"; }
  fi
  local kdeb bdeb
  kdeb="$(ls "$dl"/linux-image-*.deb | head -1)"
  bdeb="$(ls "$dl"/busybox-static_*.deb | head -1)"
  [ -f "$kdeb" ] && [ -f "$bdeb" ] || die "kernel or busybox .deb missing after download"
  rm -rf "$guest_out" && mkdir -p "$guest_out/x"
  log "kernel + busybox: extracting vmlinuz and busybox"
  # Only the two files: the kernel package's modules are ~400 MB and unused (everything needed is built in).
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$guest_out/x" --wildcards './boot/vmlinuz-*'
  dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$guest_out/x" ./usr/bin/busybox
  local vmlinuz
  vmlinuz="$(ls "$guest_out"/x/boot/vmlinuz-* | head -1)"
  basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$guest_out/kernel-release"
  mv "$vmlinuz" "$guest_out/vmlinuz"
  mv "$guest_out/x/usr/bin/busybox" "$guest_out/busybox"
  rm -rf "$guest_out/x"
  "$guest_out/busybox" true 2>/dev/null || die "the extracted busybox does not run (is it static?)"
  { echo "kernel $(deb_id "$kdeb")"; echo "busybox $(deb_id "$bdeb")"; } >"$guest_stamp"
  if [ "$fell_back" = 1 ]; then note_fallback kernel "$guest_stamp"; note_fallback busybox "$guest_stamp"; fi
  rm -rf "$dl"
}

# The initramfs is rebuilt whenever guest/ or busybox changes (it takes well under a second).
build_initramfs() {
  local inputs out="$guest_out/initramfs.cpio.gz"
  inputs="$( (cd "$here/guest" && find . -type f | sort | xargs sha256sum; sha256sum "$guest_out/busybox") | sha256sum | cut -d' ' -f1)"
  if [ -f "$out" ] && [ "$(cat "$guest_out/initramfs.inputs" 2>/dev/null)" = "$inputs" ]; then
    log "initramfs: cached"
    return
  fi
  local root="$guest_out/initramfs-root"
  rm -rf "$root" && mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,root,scenarios}
  cp "$guest_out/busybox" "$root/bin/busybox"
  # The kernel execs /init through its #! line before busybox can install its applets, so /bin/sh
  # must exist in the archive; /init installs the rest.
  ln -s busybox "$root/bin/sh"
  install -m 0755 "$here/guest/init" "$root/init"
  if [ -d "$here/guest/scenarios" ]; then
    find "$here/guest/scenarios" -maxdepth 1 -name '*.sh' -exec install -m 0755 {} "$root/scenarios/" \;
  fi
  # newc with owner 0:0; the host's cpio if there is one, else busybox's own cpio applet.
  local cpio_cmd=("$guest_out/busybox" cpio)
  command -v cpio >/dev/null && cpio_cmd=(cpio)
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | "${cpio_cmd[@]}" -o -H newc -R 0:0 2>/dev/null | gzip -9 >"$out.tmp") \
    || die "packing the initramfs failed (${cpio_cmd[*]})"
  mv "$out.tmp" "$out"
  rm -rf "$root"
  echo "$inputs" >"$guest_out/initramfs.inputs"
  log "initramfs: built ($(du -k "$out" | cut -f1) KiB with ${cpio_cmd[*]})"
}

# The package lists (~140 MB unpacked) only matter while resolving: drop them once everything is here.
drop_apt_lists() {
  rm -rf "$apt_root"/var/lib/apt/lists/* "$apt_root"/var/cache/apt/*.bin "$apt_root"/var/cache/apt/archives/*.deb
  mkdir -p "$apt_root/var/lib/apt/lists/partial"
}

# ---------------------------------------------------------------------------------------------
mkdir -p "$cache"
provision_qemu
write_qemu_wrapper
check_qemu
provision_guest_packages
build_initramfs
drop_apt_lists

qemu_version="$("$cache/bin/qemu-system-x86_64" --version | head -1)"
{
  echo "# resolved by tools/e2e/setup.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "qemu-binary: $qemu_version"
  echo "kernel-release: $(cat "$guest_out/kernel-release")"
  cat "$qemu_stamp" "$guest_stamp"
} >"$cache/versions.txt"

if [ "$update_lock" = 1 ] || [ ! -f "$lock" ]; then
  { echo "# tools/e2e/versions.lock: exact Debian versions setup.sh installs (role package version)."
    echo "# Re-pin with: bash tools/e2e/setup.sh --update-lock"
    grep -E '^(qemu|kernel|busybox) ' "$cache/versions.txt"; } >"$lock"
  log "wrote $lock"
fi

echo "--- e2e versions (.cache/versions.txt)"
echo "QEMU:    $qemu_version (qemu-system-x86 $(awk '$2 == "qemu-system-x86" { print $3 }' "$qemu_stamp"), $(wc -l <"$qemu_stamp") packages)"
echo "kernel:  $(cat "$guest_out/kernel-release") ($(awk '$1 == "kernel" { print $2 " " $3 }' "$guest_stamp"))"
echo "busybox: $(awk '$1 == "busybox" { print $2 " " $3 }' "$guest_stamp")"
echo "disk:    $(du -sh "$cache" | cut -f1) in $cache"
log "done"
