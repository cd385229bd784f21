# Sourced by scripts/foreign-backends.sh and tools/e2e/setup.sh: a private apt state for Debian
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
