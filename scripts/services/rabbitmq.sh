#!/usr/bin/env bash
# RabbitMQ for the event tests (AMQP publisher confirms, reconnects).
#
#   scripts/services/rabbitmq.sh start    start the machine's RabbitMQ if it is not running (installing
#                                         the Debian package first when root); print AMQP_URL
#   scripts/services/rabbitmq.sh status   exit 0 and print AMQP_URL if a broker answers
#
# With AMQP_URL already set, only checks that the broker there answers. Progress goes to stderr;
# on success stdout holds only `AMQP_URL=…`, so callers can parse it. Never skips silently: when
# it cannot provide a broker it says what to run and exits 1.
#
# Settings (env):
#   AMQP_URL                a broker to use instead       (default amqp://guest:guest@127.0.0.1:5672)
#   RABBITMQ_START_TIMEOUT  seconds to wait for the port  (default 90)
set -euo pipefail

DEFAULT_URL="amqp://guest:guest@127.0.0.1:5672"
URL="${AMQP_URL:-$DEFAULT_URL}"
TIMEOUT="${RABBITMQ_START_TIMEOUT:-90}"

log() { echo "rabbitmq.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# host and port out of amqp://user:pass@host:port/vhost
hostport() {
  local rest="${URL#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  local host="${rest%%:*}" port=5672
  [[ "$rest" == *:* ]] && port="${rest##*:}"
  echo "$host $port"
}
read -r HOST PORT < <(hostport)

# The AMQP handshake: the broker answers "AMQP" + version to a protocol header it does not accept,
# or sends Connection.Start (its server properties begin with "capabilities").
answers() {
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "AMQP\x00\x00\x09\x01" >&3
    head -c 64 <&3 | grep -aq -e capabilities -e AMQP' _ "$HOST" "$PORT" 2>/dev/null
}

wait_for_broker() {
  local i
  for ((i = 0; i < TIMEOUT; i++)); do
    answers && return 0
    sleep 1
  done
  return 1
}

start() {
  if answers; then echo "AMQP_URL=$URL"; return 0; fi
  if [[ -n "${AMQP_URL:-}" && "$URL" != "$DEFAULT_URL" ]]; then
    die "no AMQP broker answers at $HOST:$PORT (AMQP_URL=$AMQP_URL); start it, or unset AMQP_URL to use a local RabbitMQ"
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]]; then
      die "RabbitMQ is not installed. Install it with: sudo apt-get update && sudo apt-get install -y --no-install-recommends rabbitmq-server"
    fi
    log "installing rabbitmq-server (apt-get)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rabbitmq-server >/dev/null 2>&1 ||
      { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rabbitmq-server >&2; } ||
      die "could not install rabbitmq-server"
    # The package may have started it already (where an init system runs).
    if wait_for_broker_briefly; then echo "AMQP_URL=$URL"; return 0; fi
  fi
  if [[ "$(id -u)" -ne 0 && "$(id -un)" != "rabbitmq" ]]; then
    die "RabbitMQ is installed but not running. Start it with: sudo rabbitmq-server -detached"
  fi
  log "starting RabbitMQ (rabbitmq-server -detached)…"
  rabbitmq-server -detached >&2 2>&1 || die "rabbitmq-server -detached failed; see /var/log/rabbitmq"
  wait_for_broker || die "RabbitMQ did not answer on $HOST:$PORT within ${TIMEOUT}s; see /var/log/rabbitmq"
  # The port opens before the broker is ready for every operation: wait for the app too.
  if command -v rabbitmqctl >/dev/null 2>&1; then rabbitmqctl await_startup >/dev/null 2>&1 || true; fi
  log "RabbitMQ is up at $HOST:$PORT"
  echo "AMQP_URL=$URL"
}

wait_for_broker_briefly() {
  local i
  for ((i = 0; i < 10; i++)); do
    answers && return 0
    sleep 1
  done
  return 1
}

case "${1:-}" in
  start) start ;;
  status)
    answers || { log "no AMQP broker answers at $HOST:$PORT"; exit 1; }
    echo "AMQP_URL=$URL"
    ;;
  *)
    echo "usage: $0 start|status" >&2
    exit 64
    ;;
esac
