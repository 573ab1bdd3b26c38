#!/usr/bin/env bash
# Chromium and its driver from Debian packages, for the share page's browser test.
# Installs them with apt-get when missing and running as root; otherwise says what to do.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: chromium and chromedriver are missing, and this is not root on a" \
         "Debian-based machine; install them (apt-get install chromium chromium-driver) or" \
         "the share page browser test will be skipped." >&2
    exit 1
fi
echo "ensure_chromium: installing chromium and chromium-driver (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
