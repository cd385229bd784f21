#!/usr/bin/env bash
# Debian packages vtcon's tests use. Idempotent; skips apt when everything is present.
set -euo pipefail
pkgs=(build-essential python3 debian-archive-keyring tmux chromium conserver-server conserver-client)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
