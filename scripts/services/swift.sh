#!/usr/bin/env bash
# Single-node OpenStack Swift with the s3api middleware: the S3-compatible store the tests use.
# (Swift installs from Debian packages, where no MinIO is packaged, and the npm S3 emulators
# lack ListParts, which @tus/s3-store needs; docs/testing.md says what this script does.)
#
#   scripts/services/swift.sh start    install if needed, provision, start, verify; print the S3 env
#   scripts/services/swift.sh status   exit 0 and print the S3 env if running and healthy
#   scripts/services/swift.sh stop     stop the servers started here; the data stays
#
# Progress goes to stderr; on success stdout holds only the env lines, KEY=value, so callers
# can parse them. Everything lives in one state directory, never in /etc/swift, so a system
# Swift is never touched.
#
# Settings (env):
#   SWIFT_DIR             state directory           (default /tmp/xray-swift)
#   SWIFT_PORT            S3/Swift proxy port       (default 8091)
#   SWIFT_OBJECT_PORT     object server port        (default 6200)
#   SWIFT_CONTAINER_PORT  container server port     (default 6201)
#   SWIFT_ACCOUNT_PORT    account server port       (default 6202)
#   SWIFT_START_TIMEOUT   seconds to wait for a working S3 API (default 60)
set -euo pipefail

SWIFT_DIR="${SWIFT_DIR:-/tmp/xray-swift}"
SWIFT_PORT="${SWIFT_PORT:-8091}"
SWIFT_OBJECT_PORT="${SWIFT_OBJECT_PORT:-6200}"
SWIFT_CONTAINER_PORT="${SWIFT_CONTAINER_PORT:-6201}"
SWIFT_ACCOUNT_PORT="${SWIFT_ACCOUNT_PORT:-6202}"
SWIFT_START_TIMEOUT="${SWIFT_START_TIMEOUT:-60}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S3_CHECK="$SCRIPT_DIR/s3-check.mjs"
PACKAGES=(swift-proxy swift-object swift-container swift-account)
SERVERS=(account container object proxy) # start order: the proxy needs the others
DEVICES="$SWIFT_DIR/devices"

log() { echo "swift.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

port_of() {
  case "$1" in
    proxy) echo "$SWIFT_PORT" ;;
    object) echo "$SWIFT_OBJECT_PORT" ;;
    container) echo "$SWIFT_CONTAINER_PORT" ;;
    account) echo "$SWIFT_ACCOUNT_PORT" ;;
  esac
}

print_env() {
  echo "S3_ENDPOINT=http://127.0.0.1:$SWIFT_PORT"
  echo "S3_REGION=us-east-1"
  echo "S3_ACCESS_KEY_ID=test:tester"
  echo "S3_SECRET_ACCESS_KEY=testing"
  echo "S3_FORCE_PATH_STYLE=true"
}

# The pid from a pid file, if that process is alive and really is our server (guards
# against a recycled pid after a reboot or a crash).
live_pid() {
  local pidfile="$SWIFT_DIR/run/$1.pid" pid cmdline
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  [[ "$cmdline" == *"$SWIFT_DIR/$1-server.conf"* ]] || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# GET /healthcheck with bash's /dev/tcp: curl is not on every fresh machine.
healthcheck() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET /healthcheck HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    read -r status <&3
    [[ "$status" == *" 200 "* ]]' _ "$SWIFT_PORT" 2>/dev/null
}

s3_check() {
  S3_ENDPOINT="http://127.0.0.1:$SWIFT_PORT" S3_REGION=us-east-1 \
    S3_ACCESS_KEY_ID=test:tester S3_SECRET_ACCESS_KEY=testing \
    node "$S3_CHECK" "${1:-xray-swift-check}"
}

all_running() {
  local s
  for s in "${SERVERS[@]}"; do live_pid "$s" >/dev/null || return 1; done
}

tail_logs() {
  local s
  for s in "${SERVERS[@]}"; do
    [[ -f "$SWIFT_DIR/log/$s.log" ]] || continue
    echo "----- $SWIFT_DIR/log/$s.log (last 20 lines) -----" >&2
    tail -n 20 "$SWIFT_DIR/log/$s.log" >&2
  done
}

# "install ok installed" only once dpkg has configured a package: one that another apt run
# is installing right now counts as missing, and our apt-get then waits for that run's lock.
packages_installed() {
  local p
  for p in "${PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || return 1
  done
}

ensure_packages() {
  packages_installed && return 0
  local cmd="apt-get install -y --no-install-recommends ${PACKAGES[*]}"
  if [[ $EUID -ne 0 ]]; then
    die "the Swift packages are not installed. Install them as root, then run this again:
    sudo apt-get update && sudo $cmd"
  fi
  command -v apt-get >/dev/null || die "Swift packages are missing and apt-get is not available; install: ${PACKAGES[*]}"
  log "installing ${PACKAGES[*]} (about 30 s) ..."
  # Another process may be running apt right now: wait for its lock instead of failing.
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >&2; then
    log "install failed; refreshing the package lists and retrying ..."
    "${apt[@]}" update >&2 || die "apt-get update failed"
    "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >&2 || die "could not install: $cmd"
  fi
  packages_installed || die "packages still missing after install: ${PACKAGES[*]}"
}

# As root the servers drop to user `swift` (the device directory must belong to it, or
# account PUTs fail with 500 PermissionError). Without root they simply run as the caller.
run_user() {
  if [[ $EUID -eq 0 ]]; then echo swift; else id -un; fi
}

ensure_user() {
  [[ $EUID -eq 0 ]] || return 0
  id swift >/dev/null 2>&1 && return 0
  log "creating system user swift"
  useradd --system --user-group --no-create-home --home-dir /var/lib/swift --shell /usr/sbin/nologin swift
}

write_confs() {
  local user="$1"
  mkdir -p "$SWIFT_DIR"/{run,log} "$DEVICES/d1"

  # Swift reads swift.conf from /etc/swift no matter what swift_dir says; run-server.py
  # (below) points it here. The hash prefix/suffix only need to stay the same across restarts.
  cat >"$SWIFT_DIR/swift.conf" <<'EOF'
[swift-hash]
swift_hash_path_prefix = xray-test
swift_hash_path_suffix = xray-test

[storage-policy:0]
name = xray-test
default = yes
EOF

  local s
  for s in account container object; do
    cat >"$SWIFT_DIR/$s-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $(port_of "$s")
# One process per server: the pid file then names the only process to stop
# (run-server.py drops root, which Swift skips when it does not fork).
workers = 0
user = $user
swift_dir = $SWIFT_DIR
devices = $DEVICES
mount_check = false
log_name = $s-server

[pipeline:main]
pipeline = $s-server

[app:$s-server]
use = egg:swift#$s
EOF
  done

  # The s3api middleware sits in front of tempauth, which then checks the S3 signatures against
  # user_test_tester; s3-check.mjs proves the whole pipeline after every start.
  cat >"$SWIFT_DIR/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SWIFT_PORT
workers = 0
user = $user
swift_dir = $SWIFT_DIR
log_name = proxy-server

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

# No memcached runs here: the "memcached servers error-limited" log lines are harmless.
[filter:cache]
use = egg:swift#memcache

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF

  # Runs one server like /usr/bin/swift-*-server does, but with swift.conf (hash prefix,
  # storage policies, constraints) read from the state directory instead of /etc/swift,
  # and as the conf's `user` even though it does not fork.
  cat >"$SWIFT_DIR/run-server.py" <<'EOF'
import os
import sys

from swift.common import utils

server = sys.argv.pop(1)  # e.g. "proxy-server"; the rest is: <conf file> -v
utils.set_swift_dir(os.path.dirname(os.path.abspath(sys.argv[1])))
from swift.common import constraints, storage_policy  # noqa: E402
constraints.reload_constraints()
storage_policy.reload_storage_policies()
from swift.common.wsgi import run_wsgi  # noqa: E402

conf_file, options = utils.parse_options()
# With workers = 0 (one process, no fork) Swift never drops root itself: do it here, to the
# conf's `user`, so the device directory stays owned by that user.
if os.geteuid() == 0:
    utils.drop_privileges(utils.readconf(conf_file, 'app:' + server)['user'])
sys.exit(run_wsgi(conf_file, server, **options))
EOF
}

# The Python that has the swift modules: the one in swift-proxy-server's shebang. A plain
# `python3` may be another interpreter (pyenv, a venv) without them.
swift_python() {
  local bin line
  bin="$(command -v swift-proxy-server)" || die "swift-proxy-server not found on PATH"
  read -r line <"$bin"
  line="${line#\#!}"
  echo "${line# }"
}

# One device, one replica, 2^8 partitions. Rebuilt only when the ports change, so
# a restart keeps the data.
ensure_rings() {
  local stamp="$SWIFT_OBJECT_PORT $SWIFT_CONTAINER_PORT $SWIFT_ACCOUNT_PORT"
  if [[ -f "$SWIFT_DIR/rings.stamp" && "$(<"$SWIFT_DIR/rings.stamp")" == "$stamp" ]] &&
    [[ -s "$SWIFT_DIR/object.ring.gz" && -s "$SWIFT_DIR/container.ring.gz" && -s "$SWIFT_DIR/account.ring.gz" ]]; then
    return 0
  fi
  log "building rings"
  local s builder rc
  for s in object container account; do
    builder="$SWIFT_DIR/$s.builder"
    rm -f "$builder" "$SWIFT_DIR/$s.ring.gz"
    swift-ring-builder "$builder" create 8 1 1 >/dev/null
    swift-ring-builder "$builder" add "r1z1-127.0.0.1:$(port_of "$s")/d1" 1 >/dev/null
    # Exit code 1 is only a warning (e.g. about balance); the ring file decides.
    rc=0
    swift-ring-builder "$builder" rebalance >/dev/null || rc=$?
    [[ $rc -le 1 && -s "$SWIFT_DIR/$s.ring.gz" ]] || die "swift-ring-builder rebalance failed for $s (exit $rc)"
  done
  echo "$stamp" >"$SWIFT_DIR/rings.stamp"
}

# Pids spawned by this run, by server: judged by the process itself, never by its cmdline,
# which still shows this script's until the forked child has exec'd the server.
declare -A STARTED=()

# Alive and not a zombie (an exited child of ours stays a zombie until we wait for it).
process_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# The pid of server $1 if it runs: from its pid file or, for a child of this run that has not
# exec'd the server yet, from STARTED.
running_pid() {
  live_pid "$1" && return 0
  local pid="${STARTED[$1]:-}"
  [[ -n "$pid" ]] && process_alive "$pid" && echo "$pid"
}

# Sets EXITED to "exit code N" or "killed by SIGx" for a server child of ours that has ended
# (not in a $(...): a subshell cannot wait for its parent's children).
exit_status() {
  local rc=0
  wait "$1" 2>/dev/null || rc=$?
  if ((rc > 128)); then EXITED="killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"; else EXITED="exit code $rc"; fi
}

start_servers() {
  local user="$1" s port pid python
  read -ra python <<<"$(swift_python)"
  ((${#python[@]})) || die "cannot tell which Python runs swift-proxy-server"
  for s in "${SERVERS[@]}"; do
    live_pid "$s" >/dev/null && continue
    port="$(port_of "$s")"
    port_open "$port" &&
      die "port $port ($s server) is in use by a process this state dir does not know (see: ss -ltnp 'sport = :$port'). Stop it, or choose other ports with SWIFT_PORT / SWIFT_OBJECT_PORT / SWIFT_CONTAINER_PORT / SWIFT_ACCOUNT_PORT."
    # -v logs to stdout (there is no syslog here). stdin/stdout/stderr are all redirected so
    # a caller capturing our output (execSync, $(...)) does not wait on the servers, and the
    # lock fd 9 is closed so a server does not hold the start lock forever.
    nohup "${python[@]}" "$SWIFT_DIR/run-server.py" "$s-server" "$SWIFT_DIR/$s-server.conf" -v \
      </dev/null >"$SWIFT_DIR/log/$s.log" 2>&1 9>&- &
    pid=$!
    STARTED[$s]=$pid
    echo "$pid" >"$SWIFT_DIR/run/$s.pid"
    log "started $s server (pid $pid, port $port)"
  done
}

# Fails this start attempt: show why, and stop what was started so nothing half-working
# lingers (the logs stay in the state dir).
startup_failed() {
  log "error: $*"
  tail_logs
  stop_servers
  return 1
}

wait_until_ready() {
  local deadline=$((SECONDS + SWIFT_START_TIMEOUT)) s
  until healthcheck; do
    for s in "${!STARTED[@]}"; do
      process_alive "${STARTED[$s]}" && continue
      exit_status "${STARTED[$s]}"
      startup_failed "the $s server (pid ${STARTED[$s]}) exited during startup ($EXITED)"
      return 1
    done
    ((SECONDS < deadline)) ||
      { startup_failed "the proxy did not answer /healthcheck on port $SWIFT_PORT within ${SWIFT_START_TIMEOUT}s"; return 1; }
    sleep 0.2
  done
  # /healthcheck only proves the proxy is up; an S3 round trip proves the whole chain.
  local rc
  while true; do
    rc=0
    s3_check || rc=$?
    ((rc == 0)) && break
    if ((rc == 3)); then
      stop_servers
      die "the S3 check needs the project's packages: node scripts/pnpm.mjs install"
    fi
    ((SECONDS < deadline)) ||
      { startup_failed "the S3 API on port $SWIFT_PORT did not work within ${SWIFT_START_TIMEOUT}s"; return 1; }
    sleep 1
  done
}

cmd_start() {
  command -v node >/dev/null || die "node is required (for the S3 check)"
  mkdir -p "$SWIFT_DIR"
  # Two test runs starting at once must not both provision and start servers.
  exec 9>"$SWIFT_DIR/.lock"
  flock 9

  if all_running && healthcheck && s3_check >/dev/null 2>&1; then
    log "already running and healthy ($SWIFT_DIR)"
    print_env
    return 0
  fi
  # Half-running (a server died) or unhealthy: restart cleanly.
  all_running && log "running but not healthy; restarting"
  stop_servers

  ensure_packages
  ensure_user
  local user
  user="$(run_user)"
  write_confs "$user"
  ensure_rings
  if [[ $EUID -eq 0 ]]; then
    chown -R swift:swift "$DEVICES"
    runuser -u swift -- test -w "$DEVICES/d1" ||
      die "user swift cannot write $DEVICES/d1 (is a parent of SWIFT_DIR closed to other users?)"
  fi

  # A second attempt: one CI run saw a server exit within a second of starting, with
  # nothing in its log; a real fault fails both attempts and shows its logs twice.
  local t0=$SECONDS attempt
  for attempt in 1 2; do
    STARTED=()
    start_servers "$user"
    wait_until_ready && break
    ((attempt < 2)) || die "Swift did not start; the server logs above say why"
    log "starting once more ..."
  done
  log "ready in $((SECONDS - t0))s; logs in $SWIFT_DIR/log"
  print_env
}

stop_servers() {
  local s pid stopped=()
  for s in "${SERVERS[@]}"; do
    if pid="$(running_pid "$s")"; then
      kill -TERM "$pid" 2>/dev/null || true
      stopped+=("$s:$pid")
    fi
    rm -f "$SWIFT_DIR/run/$s.pid"
  done
  # Give them up to 10 s to exit, then force.
  local entry i
  for entry in "${stopped[@]}"; do
    pid="${entry#*:}"
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "${entry%%:*} server (pid $pid) did not exit; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped ${entry%%:*} server (pid $pid)"
  done
}

cmd_stop() {
  [[ -d "$SWIFT_DIR" ]] || { log "nothing to stop ($SWIFT_DIR does not exist)"; return 0; }
  exec 9>"$SWIFT_DIR/.lock"
  flock 9
  stop_servers
  log "stopped; state kept in $SWIFT_DIR"
}

cmd_status() {
  local s pid ok=0
  for s in "${SERVERS[@]}"; do
    if pid="$(live_pid "$s")"; then
      log "$s server: running (pid $pid, port $(port_of "$s"))"
    else
      log "$s server: not running"
      ok=1
    fi
  done
  if healthcheck; then log "proxy /healthcheck: ok"; else log "proxy /healthcheck: no answer"; ok=1; fi
  ((ok == 0)) && print_env
  return "$ok"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
