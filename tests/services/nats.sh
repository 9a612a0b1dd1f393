#!/bin/sh
# NATS with JetStream for this checkout: `install` puts nats-server >= 2.10.23 in
# target/tools/ when the system has none or an older one (older servers lose streams after
# a kill -9); `start [PORT] [DIR]` runs it with its data in DIR (default
# target/services/nats) and fsyncs every JetStream write (`sync_interval: always`: the
# default fsyncs every two minutes, and acknowledged writes were shown lost); `stop [DIR]`
# stops it. `bin` prints the path of the server it uses.
set -eu

VERSION=v2.15.2
MINIMUM=2.10.23
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS=$ROOT/target/tools
DEFAULT_DIR=$ROOT/target/services/nats

# The version of the server at $1, as "2.10.23", or nothing.
version_of() {
    "$1" --version 2>/dev/null | sed -n 's/^nats-server: v\{0,1\}\([0-9.]*\).*/\1/p'
}

# True when version $1 is at least $MINIMUM.
recent() {
    [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$MINIMUM" "$1" | sort -V | head -n1)" = "$MINIMUM" ]
}

# The server to run: ours in target/tools, else the system's if recent enough.
server() {
    if [ -x "$TOOLS/nats-server" ] && recent "$(version_of "$TOOLS/nats-server")"; then
        echo "$TOOLS/nats-server"
    elif command -v nats-server >/dev/null 2>&1 && recent "$(version_of "$(command -v nats-server)")"; then
        command -v nats-server
    fi
}

install() {
    if [ -n "$(server)" ]; then
        echo "nats: $(server) ($(version_of "$(server)")) is installed"
        return
    fi
    fix="GOBIN=$TOOLS go install github.com/nats-io/nats-server/v2@$VERSION"
    if ! command -v go >/dev/null 2>&1; then
        echo "nats: no nats-server >= $MINIMUM and no Go to build one; install Go (https://go.dev/dl/), then run: $fix" >&2
        exit 1
    fi
    echo "nats: installing nats-server $VERSION into $TOOLS (a minute or two)"
    mkdir -p "$TOOLS"
    if ! GOBIN=$TOOLS go install "github.com/nats-io/nats-server/v2@$VERSION"; then
        echo "nats: installing nats-server failed; run: $fix" >&2
        exit 1
    fi
}

start() {
    port=${1:-4222}
    dir=${2:-$DEFAULT_DIR}
    install >/dev/null
    bin=$(server)
    mkdir -p "$dir/jetstream"
    if [ -f "$dir/nats.pid" ] && kill -0 "$(cat "$dir/nats.pid")" 2>/dev/null; then
        echo "nats: already running (pid $(cat "$dir/nats.pid")); connect to nats://127.0.0.1:$(cat "$dir/port")"
        return
    fi
    cat >"$dir/nats.conf" <<CONF
listen: 127.0.0.1:$port
jetstream {
    store_dir: "$dir/jetstream"
    sync_interval: always
}
CONF
    echo "$port" >"$dir/port"
    # A new log: the readiness check below must not read the previous run's.
    rm -f "$dir/nats.log"
    "$bin" -c "$dir/nats.conf" -P "$dir/nats.pid" >"$dir/nats.log" 2>&1 &
    # Ready when the port answers with the server's INFO line.
    tries=0
    until grep -q "Server is ready" "$dir/nats.log" 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 $! 2>/dev/null; then
            echo "nats: the server did not start; its log, $dir/nats.log:" >&2
            cat "$dir/nats.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "nats: started $bin ($(version_of "$bin")) with JetStream, data in $dir, log $dir/nats.log"
    echo "nats: connect to nats://127.0.0.1:$port"
}

stop() {
    dir=${1:-$DEFAULT_DIR}
    if [ ! -f "$dir/nats.pid" ]; then
        echo "nats: not running (no $dir/nats.pid)"
        return
    fi
    pid=$(cat "$dir/nats.pid")
    if kill "$pid" 2>/dev/null; then
        tries=0
        while kill -0 "$pid" 2>/dev/null && [ $tries -lt 100 ]; do
            tries=$((tries + 1))
            sleep 0.1
        done
        echo "nats: stopped (pid $pid)"
    else
        echo "nats: not running (pid $pid is gone)"
    fi
    rm -f "$dir/nats.pid"
}

case "${1:-}" in
install) install ;;
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
bin) install >/dev/null && server ;;
*)
    echo "usage: $0 install | start [PORT] [DIR] | stop [DIR] | bin" >&2
    exit 2
    ;;
esac
