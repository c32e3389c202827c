# Helpers shared by bench/run.sh and bench/soak.sh. Sourced after build/lib.sh, in the tree the
# unprivileged user runs (CA_ROOT). Sets and uses: STATE (a fresh directory per run).
# shellcheck shell=bash

BENCH_DIR=$CA_ROOT/bench
HZ=$(getconf CLK_TCK)

# psql on the private cluster: bpsql [DB] -c ... (no psqlrc, unaligned, tuples only)
bpsql() {
    local db=clientapi
    if [ $# -gt 0 ] && [[ $1 != -* ]]; then db=$1; shift; fi
    psql -h "$STATE/pg/sock" -p "$PG_PORT" -U clientapi -d "$db" -X -q -At -v ON_ERROR_STOP=1 "$@"
}

# Private PostgreSQL with pg_stat_statements loaded, migrated: start_pg
start_pg() {
    PG_PORT=$(free_port)
    say "PostgreSQL on port $PG_PORT (private cluster, pg_stat_statements preloaded)"
    pg_start "$STATE/pg" "$PG_PORT" \
        "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c max_connections=200"
    DBD_PARAMS="host=$STATE/pg/sock port=$PG_PORT dbname=clientapi user=clientapi"
    bpsql -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
    ./clientapi migrate --driver pgsql --params "$DBD_PARAMS" --sql-dir sql >/dev/null
    export CLIENTAPI_DBD_DRIVER=pgsql CLIENTAPI_DBD_PARAMS=$DBD_PARAMS
    export CLIENTAPI_KEY_FILE=$STATE/secret.keys
    (umask 077; ./clientapi keygen --kid bench1 >"$STATE/secret.keys" 2>/dev/null)
}

# Fill @NAME@ placeholders of a template from the environment variables BENCH_NAME.
render() { # render TEMPLATE OUTPUT
    perl -pe 's/\@([A-Z_]+)\@/exists $ENV{"BENCH_$1"} ? $ENV{"BENCH_$1"} : die "no value for \@$1\@\n"/ge' \
        "$1" >"$2"
}

HTTPD=$(apxs -q SBINDIR)/$(apxs -q TARGET)

# start_httpd CONF: configtest, start, wait for the pid file and the port
start_httpd() {
    local conf=$1 i
    "$HTTPD" -t -d "$STATE" -f "$conf" >/dev/null 2>&1 \
        || { "$HTTPD" -t -d "$STATE" -f "$conf" || true; die "httpd refuses $conf"; }
    "$HTTPD" -d "$STATE" -f "$conf" -k start
    for i in $(seq 1 100); do
        [ -s "$STATE/httpd.pid" ] && curl -s -o /dev/null "http://127.0.0.1:$HTTPD_PORT/" && return 0
        sleep 0.1
    done
    tail -n 20 "$STATE/error_log" >&2 || true
    die "httpd did not start"
}

stop_httpd() {
    local conf=$1
    [ -s "$STATE/httpd.pid" ] || return 0
    "$HTTPD" -d "$STATE" -f "$conf" -k stop >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do [ -s "$STATE/httpd.pid" ] || return 0; sleep 0.1; done
}

# pids of a daemon: its parent (pid file) and the parent's children
tree_pids() { # tree_pids PIDFILE
    local p
    [ -s "$1" ] || return 0
    p=$(head -n 1 "$1")
    echo "$p"
    pgrep -P "$p" || true
}

child_pids() { # child_pids PIDFILE: the children only (httpd's workers)
    [ -s "$1" ] || return 0
    pgrep -P "$(head -n 1 "$1")" || true
}

# utime+stime in clock ticks, summed over the given pids (threads included)
cpu_ticks() {
    local p sum=0 f
    local -a a
    for p in "$@"; do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        f=${f##*) }   # fields after "pid (comm) "; utime and stime are the 12th and 13th here
        read -r -a a <<<"$f"
        sum=$((sum + a[11] + a[12]))
    done
    echo "$sum"
}

# sum of VmRSS in KiB over the given pids
rss_kb() {
    local p sum=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# open file descriptors summed over the given pids
fd_count() {
    local p sum=0 n
    for p in "$@"; do
        n=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) || continue
        sum=$((sum + n))
    done
    echo "$sum"
}

wait_port() { # wait_port PORT
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}
