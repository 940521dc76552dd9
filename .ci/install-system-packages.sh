#!/usr/bin/env bash
# Install the Debian packages the tests use, only those that are missing (idempotent):
# Chromium for the browser tests (Playwright drives /usr/bin/chromium; no browser download)
# bubblewrap for the grading sandbox, and Node.js with npm for the class hub's proxy
# (configurable-http-proxy, which .ci/setup installs from the npm registry).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: chromium, bubblewrap and npm already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "need root (or sudo) to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ -x /usr/bin/chromium ] || { echo "apt-get finished but /usr/bin/chromium is missing" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "apt-get finished but bwrap is missing" >&2; exit 1; }
command -v npm >/dev/null || { echo "apt-get finished but npm is missing" >&2; exit 1; }
echo "system packages: installed ${missing[*]}"
