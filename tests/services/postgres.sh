#!/usr/bin/env bash
# A PostgreSQL server for this checkout: the `postgres` plugin's tests, its benchmark and
# `make services` run it.
#
#   tests/services/postgres.sh install              install PostgreSQL when it is missing (apt-get)
#   tests/services/postgres.sh start [PORT] [DIR]    start it (default 5432, target/services/postgres)
#   tests/services/postgres.sh stop  [DIR]           stop it (the data stays in DIR)
#
# PostgreSQL refuses to run as root, so the server runs as an unprivileged user this script
# creates (evhost-pg) when the script runs as root. The server listens on 127.0.0.1 only,
# with wal_level = logical, a superuser `evhost` with the password `evhost` and a database
# `evhost`: postgres://evhost:evhost@127.0.0.1:PORT/evhost. A second `start` on the same DIR
# reuses its data.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEFAULT_DIR="$ROOT/target/services/postgres"
RUN_AS=evhost-pg
FIX="apt-get update && apt-get install -y postgresql"

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# The newest server's bin folder: Debian keeps initdb and pg_ctl out of PATH.
bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

install() {
    if [ -n "$(bindir)" ]; then
        return 0
    fi
    echo "postgres.sh: PostgreSQL is missing; installing it: $FIX" >&2
    if [ "$(id -u)" != 0 ]; then
        die "PostgreSQL is not installed and installing needs root; run as root: $FIX"
    fi
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; then
        die "installing PostgreSQL failed (output above); run: $FIX"
    fi
    [ -n "$(bindir)" ] || die "PostgreSQL was installed but initdb/pg_ctl are not under /usr/lib/postgresql/*/bin; run: $FIX"
}

# Runs a server binary as the unprivileged user when we are root (PostgreSQL refuses root).
as_server() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [ "$(id -u)" = 0 ] || return 0
    id -u "$RUN_AS" >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS" \
        || die "cannot create the user $RUN_AS that runs the server; run: useradd --system $RUN_AS"
}

start() {
    local port="${1:-5432}" dir="${2:-$DEFAULT_DIR}"
    install
    ensure_user
    local bin
    bin="$(bindir)"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    # The server's user must reach its folder: a temporary folder is often 0700.
    chmod 0755 "$dir"
    [ "$(id -u)" = 0 ] && chown "$RUN_AS" "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        rm -rf "$dir/data"
        printf 'evhost\n' >"$dir/pwfile"
        [ "$(id -u)" = 0 ] && chown "$RUN_AS" "$dir/pwfile"
        as_server "$bin/initdb" -D "$dir/data" -U evhost --pwfile="$dir/pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || die "initdb failed; see $dir/initdb.log"
        rm -f "$dir/pwfile"
        cat >>"$dir/data/postgresql.conf" <<EOF
# evhost tests/services/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
wal_sender_timeout = 60s
EOF
    fi
    # The port may differ from the last start on this DIR.
    sed -i '/^port = /d' "$dir/data/postgresql.conf"
    echo "port = $port" >>"$dir/data/postgresql.conf"
    if ! as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
            || die "the server did not start; see $dir/server.log"
    fi
    if ! as_server "$bin/psql" -h "$dir" -p "$port" -U evhost -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'evhost'" | grep -q 1; then
        as_server "$bin/psql" -h "$dir" -p "$port" -U evhost -d postgres -qc "CREATE DATABASE evhost" \
            || die "cannot create the database evhost; see $dir/server.log"
    fi
    echo "postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (wal_level = logical), data in $dir/data, log $dir/server.log"
    echo "postgres: connect with: psql postgres://evhost:evhost@127.0.0.1:$port/evhost"
}

stop() {
    local dir="${1:-$DEFAULT_DIR}"
    [ -f "$dir/data/PG_VERSION" ] || { echo "postgres: nothing to stop in $dir"; return 0; }
    local bin
    bin="$(bindir)"
    [ -n "$bin" ] || die "PostgreSQL is not installed; run: $FIX"
    if as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
        echo "postgres: stopped the server in $dir"
    else
        echo "postgres: no server running in $dir"
    fi
}

case "${1:-}" in
    install) install ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) die "usage: $0 install | start [PORT] [DIR] | stop [DIR]" ;;
esac
