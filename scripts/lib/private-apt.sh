# Sourced by scripts/foreign-backends.sh, scripts/nats-server.sh and tools/e2e/setup.sh: a private apt state for Debian
# trixie under a folder of ours. APT_CONFIG is read before anything else, so the host's /etc/apt
# (its sources, its apt.conf.d hooks such as docker-clean) plays no part and is never changed.
#
# private_apt_config APT_ROOT KEYRING  — writes APT_ROOT/apt.conf and exports APT_CONFIG;
# the caller then writes APT_ROOT/etc/apt/sources.list.d/*.sources (signed-by KEYRING) and runs
# apt-get update.
private_apt_config() {
  local apt_root="$1"
  mkdir -p "$apt_root"/etc/apt/{apt.conf.d,preferences.d,trusted.gpg.d,sources.list.d} \
    "$apt_root"/var/lib/apt/lists/partial "$apt_root"/var/cache/apt/archives/partial \
    "$apt_root"/var/lib/dpkg "$apt_root"/var/log/apt
  touch "$apt_root/var/lib/dpkg/status" "$apt_root/etc/apt/sources.list"
  cat >"$apt_root/apt.conf" <<CONF
Dir "$apt_root/";
Dir::State::status "$apt_root/var/lib/dpkg/status";
Debug::NoLocking "true";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
Acquire::Retries "3";
CONF
  export APT_CONFIG="$apt_root/apt.conf"
}

# private_apt_trixie APT_ROOT MIRROR KEYRING TAG — private_apt_config, a trixie + trixie-updates
# source, and apt-get update (its output in APT_ROOT/update.log; the tail shown on failure).
# Also checks what every caller needs first: an x86_64 Debian-family host with the keyring.
private_apt_trixie() {
  local apt_root="$1" mirror="$2" keyring="$3" tag="$4" tool
  [ "$(uname -m)" = x86_64 ] || { printf '[%s] ERROR: only x86_64 hosts are supported\n' "$tag" >&2; return 1; }
  for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null || { printf "[%s] ERROR: '%s' not found (needs a Debian-family host)\n" "$tag" "$tool" >&2; return 1; }
  done
  [ -r "$keyring" ] || { printf '[%s] ERROR: %s missing: install debian-archive-keyring\n' "$tag" "$keyring" >&2; return 1; }
  private_apt_config "$apt_root"
  cat >"$apt_root/etc/apt/sources.list.d/trixie.sources" <<SRC
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: $keyring
SRC
  apt-get -q update >"$apt_root/update.log" 2>&1 || {
    tail -20 "$apt_root/update.log" >&2
    printf '[%s] ERROR: apt-get update failed (network? %s)\n' "$tag" "$mirror" >&2
    return 1
  }
}
