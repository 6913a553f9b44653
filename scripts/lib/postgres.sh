# Start and stop PostgreSQL servers owned by AgentQueue's scripts. Source it; do not run it.
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
# shellcheck shell=bash

# The newest installed PostgreSQL server binaries.
pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$dir/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (install postgresql)"
    echo "$dir"
}

# Run a command as the user that owns the server: postgres when we are root, ourselves otherwise.
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A TCP port on 127.0.0.1 that nothing listens on, starting from $1.
pg_free_port() {
    local port=${1:-54329}
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port"
}

# pg_start DIR [fast]: initialise (if needed) and start a server whose data, socket, log and port live in DIR.
# Prints nothing; sets PG_DIR, PG_PORT and DATABASE_URL. "fast" turns off fsync (for unit tests only).
pg_start() {
    PG_DIR=$1
    local mode=${2:-durable} bin
    bin=$(pg_bindir)
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DIR"; fi
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
            { cat "$PG_DIR/initdb.log" >&2; die "initdb failed in $PG_DIR"; }
    fi
    if [ -f "$PG_DIR/port" ] && pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
        PG_PORT=$(cat "$PG_DIR/port")
    else
        # A port found free can be taken before the server binds it: by another server starting beside
        # us, or as the ephemeral local port of some client's connection (54329 lies inside Linux's
        # ephemeral range). A bind failure moves on to the next port; any other failure is final.
        local port=${PG_PORT_HINT:-54329} attempt options
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
            PG_PORT=$(pg_free_port "$port")
            options="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200"
            # Tests run many suites at once, each with pools and worker processes of its own.
            [ "$mode" = fast ] && options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=600"
            echo "$options" | pg_as_owner tee "$PG_DIR/options" >/dev/null
            pg_ctl_start "$bin" "$PG_DIR" "$options" && break
            [ "$PG_BIND_FAILED" = yes ] && [ "$attempt" -lt 10 ] ||
                { tail -n 20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start (log: $PG_DIR/server.log)"; }
            port=$((PG_PORT + 1))
        done
        echo "$PG_PORT" | pg_as_owner tee "$PG_DIR/port" >/dev/null
    fi
    DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    export DATABASE_URL PG_DIR PG_PORT
}

# pg_stop DIR [MODE]: stop the server in DIR (MODE: fast, immediate, smart). Quiet when it is not running.
pg_stop() {
    local dir=$1 mode=${2:-fast} bin
    bin=$(pg_bindir)
    [ -f "$dir/data/PG_VERSION" ] || return 0
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

# pg_ctl_start BIN DIR OPTIONS: start the server in DIR once. On failure sets PG_BIND_FAILED=yes when
# the cause was a port in use (the new lines of server.log say so), no otherwise.
pg_ctl_start() {
    local bin=$1 dir=$2 options=$3 before
    before=$(stat -c %s "$dir/server.log" 2>/dev/null || echo 0)
    PG_BIND_FAILED=no
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" start >/dev/null 2>&1 && return 0
    tail -c +"$((before + 1))" "$dir/server.log" 2>/dev/null | grep -q "Address already in use" && PG_BIND_FAILED=yes
    return 1
}

# pg_restart DIR MODE: stop the server in DIR (fast or immediate) and start it again with the same options.
# Clients keep the port, so a bind failure (a client reconnecting while the server is down can be handed
# the server's own port as its ephemeral local port, for a moment) is retried on the same port.
pg_restart() {
    local dir=$1 mode=$2 bin attempt
    bin=$(pg_bindir)
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        pg_ctl_start "$bin" "$dir" "$(cat "$dir/options")" && return 0
        [ "$PG_BIND_FAILED" = yes ] && [ "$attempt" -lt 10 ] || return 1
        sleep 1
    done
}

# pg_throwaway: start a server in a new temporary directory, stopped and removed when the shell exits.
pg_throwaway() {
    local dir
    dir=$(mktemp -d /tmp/aq-pg.XXXXXX)
    chmod 755 "$dir"
    pg_start "$dir" "${1:-durable}"
    AQ_CLEANUP_DIRS="${AQ_CLEANUP_DIRS:-} $dir"
    trap 'aq_cleanup' EXIT
    trap 'exit 130' INT TERM
}

aq_cleanup() {
    local dir
    for dir in ${AQ_CLEANUP_DIRS:-}; do
        pg_stop "$dir" immediate
        rm -rf "$dir"
    done
}
