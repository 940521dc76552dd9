#!/usr/bin/env bash
# Install bubblewrap (bwrap) so the grading tests run student kernels in the real sandbox.
# Idempotent: does nothing when bwrap is already on PATH.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
    echo "install-sandbox: $(bwrap --version) already installed"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-sandbox: need root (or sudo) to apt-get install bubblewrap" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends bubblewrap

if ! command -v bwrap >/dev/null 2>&1; then
    echo "install-sandbox: apt-get finished but bwrap is missing" >&2
    exit 1
fi
# Some container runtimes forbid the namespaces bwrap needs: fail loudly, not in the tests.
bwrap --ro-bind / / --unshare-net --unshare-pid --die-with-parent --dev /dev --proc /proc true
echo "install-sandbox: installed $(bwrap --version)"
