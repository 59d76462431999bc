#!/usr/bin/env bash
# Orthanc with its DICOMweb plugin, the reference PACS the DICOMweb tests use as a client (it
# queries, retrieves from and stores to the sync server) and compare rendering against.
#
#   scripts/services/orthanc.sh start    install Debian's `orthanc` and `orthanc-dicomweb` when
#                                        missing (as root), prove that Orthanc starts with the
#                                        plugin, print ORTHANC_BINARY and ORTHANC_DICOMWEB_PLUGIN
#   scripts/services/orthanc.sh status   exit 0 and print them if both are installed
#
# Each test starts its own Orthanc (apps/sync-server/test/orthanc.ts: a temporary directory, a free
# port, SQLite), so nothing keeps running after `start`. The system's Orthanc service is never
# used: when the package installation enabled or started it, it is stopped and disabled again.
# Progress goes to stderr; on success stdout holds only the `NAME=value` lines. Never skips
# silently: when it cannot provide Orthanc it says what to run and exits 1.
#
# Settings (env): ORTHANC_BINARY, ORTHANC_DICOMWEB_PLUGIN (use these files instead),
#                 ORTHANC_START_TIMEOUT (seconds to wait for the smoke check, default 60)
set -euo pipefail

PACKAGES=(orthanc orthanc-dicomweb)
TIMEOUT="${ORTHANC_START_TIMEOUT:-60}"

log() { echo "orthanc.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

find_binary() {
  if [[ -n "${ORTHANC_BINARY:-}" ]]; then [[ -x "$ORTHANC_BINARY" ]] && echo "$ORTHANC_BINARY"; return; fi
  command -v Orthanc 2>/dev/null || { [[ -x /usr/sbin/Orthanc ]] && echo /usr/sbin/Orthanc; } || true
}

# Debian installs the plugin as /usr/lib/orthanc/libOrthancDicomWeb.so.<version> with a link in
# /usr/share/orthanc/plugins (the directory its own configuration lists).
find_plugin() {
  if [[ -n "${ORTHANC_DICOMWEB_PLUGIN:-}" ]]; then [[ -f "$ORTHANC_DICOMWEB_PLUGIN" ]] && echo "$ORTHANC_DICOMWEB_PLUGIN"; return; fi
  local p
  for p in /usr/share/orthanc/plugins/libOrthancDicomWeb.so /usr/lib/orthanc/libOrthancDicomWeb.so*; do
    [[ -f "$p" ]] && { echo "$p"; return; }
  done
  true
}

# The package enables (and, where an init system and policy allow, starts) a system-wide Orthanc
# on port 8042 with /var/lib/orthanc. The tests do not want it: stop it and keep it from booting.
disable_system_service() {
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now orthanc.service >/dev/null 2>&1 || log "warning: could not disable orthanc.service"
  else
    if [[ -x /etc/init.d/orthanc ]] && /etc/init.d/orthanc status >/dev/null 2>&1; then
      /etc/init.d/orthanc stop >/dev/null 2>&1 || log "warning: could not stop the system Orthanc"
    fi
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d orthanc disable >/dev/null 2>&1 || true; fi
  fi
  log "the system's Orthanc service is stopped and disabled (the tests start their own)"
}

install() {
  local apt_line="apt-get install -y --no-install-recommends ${PACKAGES[*]}"
  if [[ "$(id -u)" -ne 0 ]]; then
    die "Orthanc and its DICOMweb plugin are not installed. Install them with: sudo apt-get update && sudo $apt_line"
  fi
  log "installing ${PACKAGES[*]} (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${PACKAGES[@]}" >&2; } ||
    die "could not install ${PACKAGES[*]} ($apt_line)"
  disable_system_service
}

free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Start Orthanc once with a private configuration and the plugin, as the tests will, and check
# that the plugin answers; then stop it and remove its directory.
smoke_check() {
  local binary="$1" plugin="$2" dir port pid ok=0 i
  dir="$(mktemp -d -t xray-orthanc-check.XXXXXX)"
  port="$(free_port)"
  cat >"$dir/orthanc.json" <<EOF
{
  "Name": "xray-orthanc-check",
  "StorageDirectory": "$dir/db",
  "IndexDirectory": "$dir/db",
  "HttpPort": $port,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": false,
  "Plugins": ["$plugin"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" }
}
EOF
  "$binary" "$dir/orthanc.json" >"$dir/orthanc.log" 2>&1 &
  pid=$!
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -fsS "http://127.0.0.1:$port/plugins" 2>/dev/null | grep -q '"dicom-web"' &&
      curl -fsS "http://127.0.0.1:$port/dicom-web/studies" >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ $ok -ne 1 ]]; then
    tail -n 30 "$dir/orthanc.log" >&2 || true
    rm -rf "$dir"
    die "Orthanc ($binary) with the DICOMweb plugin ($plugin) did not answer on port $port within ${TIMEOUT}s (log above)"
  fi
  rm -rf "$dir"
}

print_env() {
  echo "ORTHANC_BINARY=$1"
  echo "ORTHANC_DICOMWEB_PLUGIN=$2"
}

start() {
  local binary plugin
  binary="$(find_binary)"
  plugin="$(find_plugin)"
  if [[ -z "$binary" || -z "$plugin" ]]; then
    [[ -n "${ORTHANC_BINARY:-}${ORTHANC_DICOMWEB_PLUGIN:-}" ]] &&
      die "ORTHANC_BINARY/ORTHANC_DICOMWEB_PLUGIN name files that do not exist"
    install
    binary="$(find_binary)"
    plugin="$(find_plugin)"
    [[ -n "$binary" ]] || die "orthanc is installed but no Orthanc binary was found"
    [[ -n "$plugin" ]] || die "orthanc-dicomweb is installed but libOrthancDicomWeb.so was not found"
  fi
  command -v curl >/dev/null 2>&1 || die "curl is needed for the check (apt-get install -y --no-install-recommends curl)"
  smoke_check "$binary" "$plugin"
  log "Orthanc $("$binary" --version 2>/dev/null | head -n 1 | awk '{print $NF}') with DICOMweb plugin $plugin works"
  print_env "$binary" "$plugin"
}

case "${1:-}" in
  start) start ;;
  status)
    binary="$(find_binary)"
    plugin="$(find_plugin)"
    [[ -n "$binary" && -n "$plugin" ]] || { log "Orthanc or its DICOMweb plugin is not installed"; exit 1; }
    print_env "$binary" "$plugin"
    ;;
  *)
    echo "usage: $0 start|status" >&2
    exit 64
    ;;
esac
