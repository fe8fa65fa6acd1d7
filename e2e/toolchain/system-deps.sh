#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing (a new machine of this kind
# has Go and Node.js; openssl verifies certificate chains in tests; util-linux's unshare gives the
# in-cluster test its private /run, which needs root).
set -euo pipefail
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v go >/dev/null || missing+=(golang-go)
command -v unshare >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
  echo "[deps] installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
