#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the tests use, when missing:
#   dcmtk     dcmdump/dcmftest check the DICOM files the tests make; storescu is the detector
#             that pushes images to the edge shell's C-STORE receiver
#   chromium  the browser the Playwright tests drive (PLAYWRIGHT_CHROMIUM to use another)
# Swift (S3 tests) is installed by scripts/services/swift.sh. Never skips silently.
set -euo pipefail
need=()
{ command -v dcmdump && command -v storescu; } >/dev/null 2>&1 || need+=(dcmtk)
if [ -z "${PLAYWRIGHT_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]} (apt-get)…"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
  { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"; }
