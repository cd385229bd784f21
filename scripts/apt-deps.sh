#!/usr/bin/env bash
# Debian packages vtcon's tests use. Idempotent; skips apt when everything is present. Prints one
# line; apt's own output goes to a log file, shown only when apt fails.
set -euo pipefail
# why each: the native addon (build-essential, python3 for node-gyp), foreign-backends.sh
# (debian-archive-keyring), the CLI's terminal and conserver tests (tmux, conserver-*), the
# benchmark dashboard's browser test (chromium).
pkgs=(build-essential python3 debian-archive-keyring tmux chromium conserver-server conserver-client)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[apt-deps] test packages present (${pkgs[*]})"
  exit 0
fi
echo "[apt-deps] installing ${missing[*]} with apt-get (the native addon's build, the terminal, conserver and dashboard tests need them)"
log="$(mktemp -t vtcon-apt-deps.XXXXXX.log)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "[apt-deps] ERROR: apt-get failed (log above, kept in $log); run as root, or install: ${missing[*]}" >&2
  exit 1
fi
rm -f "$log"
