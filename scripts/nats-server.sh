#!/usr/bin/env bash
# Provisions nats-server 2.10 (Debian trixie) for packages/cli's fleet tests (src/fleet/*.test.ts),
# under .cache/nats-server/ (git-ignored). Bookworm ships 2.9.10; trixie's 2.10 is a static Go
# binary, so the package alone is downloaded into a private apt state (the host's apt is never
# touched) and extracted with dpkg-deb -x; no loader or library closure is needed.
#
# Idempotent: a second run finds the stamp and does no network access.
# Output: .cache/nats-server/bin/nats-server and versions.txt (what was installed).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${VTCON_NATS_CACHE:-$repo/.cache/nats-server}"
apt_root="$cache/apt"
root="$cache/root"
mirror="${VTCON_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

die() { printf '[nats-server] ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf '[nats-server] %s\n' "$*"; }

stamp="$root/.complete"
if [ -f "$stamp" ] && [ -x "$cache/bin/nats-server" ] && "$cache/bin/nats-server" --version >/dev/null 2>&1; then
  log "cached: $(tr '\n' ' ' <"$stamp")"
  exit 0
fi

. "$repo/scripts/lib/private-apt.sh"
log "apt-get update (private state, trixie)"
private_apt_trixie "$apt_root" "$mirror" "$keyring" nats-server || exit 1

debs="$apt_root/var/cache/apt/archives"
rm -f "$debs"/*.deb
log "downloading nats-server (trixie)"
(cd "$debs" && apt-get -q download nats-server) >"$apt_root/install.log" 2>&1 \
  || { tail -20 "$apt_root/install.log" >&2; die "could not download nats-server from trixie"; }

rm -rf "$root" && mkdir -p "$root"
f="$(ls "$debs"/nats-server_*.deb)"
dpkg-deb -x "$f" "$root"
dpkg-deb -f "$f" Package Version | awk -F': ' '{ printf "%s ", $2 } END { print "" }' | sed 's/ $//' >"$root/.complete.tmp"
rm -f "$debs"/*.deb
bin="$root/usr/bin/nats-server"
[ -x "$bin" ] || bin="$root/usr/sbin/nats-server"
[ -x "$bin" ] || die "nats-server binary not found in the extracted package"
mkdir -p "$cache/bin"
ln -sf "$bin" "$cache/bin/nats-server"
"$cache/bin/nats-server" --version >/dev/null 2>&1 || { "$cache/bin/nats-server" --version >&2 || true; die "the extracted nats-server does not run"; }
mv "$root/.complete.tmp" "$stamp"
cp "$stamp" "$cache/versions.txt"
log "ready: $cache/bin/nats-server ($("$cache/bin/nats-server" --version 2>&1 | head -1))"
