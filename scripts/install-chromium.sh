#!/usr/bin/env bash
# Install Debian's headless Chromium for the report test, where it is missing.
# Skips with a clear message where apt-get or root is not available (the browser test is then skipped).
set -u
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found; the report browser test will be skipped." >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-chromium: not root and no passwordless sudo; the report browser test will be skipped." >&2
    exit 0
  fi
fi
echo "install-chromium: installing Debian's chromium (once) ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  echo "install-chromium: apt-get install chromium failed; the report browser test will be skipped." >&2
fi
exit 0
