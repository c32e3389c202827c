# The usage phase of bench/run.sh: the dashboard's usage-chart query for one endpoint over 30
# days, on a database holding USAGE_ROWS request log rows. The SQL is read from
# mod_clientapi/ca_store.c at run time (bench/lib/extract-sql.pl), so after a change there
# (an hourly rollup table, say) a re-run times the new query. Sourced by run.sh; prints Markdown.
# Uses: usage_rows, usage_args, rollup_fill, STATE, bpsql, say, die.
# shellcheck shell=bash

# sql_with_args LABEL ARG...: the statement with its %s / %lld filled in order
sql_with_args() {
    local label=$1; shift
    perl bench/lib/extract-sql.pl mod_clientapi/ca_store.c "$label" | perl -e '
        my $sql = <STDIN>; chomp $sql; my @a = @ARGV; my $n = () = $sql =~ /%(?:lld|s)/g;
        die "statement has $n parameters, " . scalar(@a) . " given (see --usage-args)\n" if $n != @a;
        $sql =~ s/%(lld|s)/my $v = shift @a; $1 eq "s" ? "\x27$v\x27" : $v/ge; print "$sql\n";' "$@"
}

# time_sql DB SQL [SESSION-SQL]: "first_ms median_ms_of_next_5", wall clock of execute + fetching every row
# (DBD::Pg, one connection, the statement sent as text like mod_dbd's prepared one)
time_sql() {
    perl -MDBI -MTime::HiRes=time -e '
        my ($dsn, $sql, $pre) = @ARGV;
        my $db = DBI->connect($dsn, "clientapi", "", {RaiseError => 1, AutoCommit => 1});
        $db->do($pre) if $pre;
        my @t;
        for (1 .. 6) {
            my $t0 = time;
            my $rows = $db->selectall_arrayref($sql);
            push @t, (time - $t0) * 1000;
        }
        my $first = shift @t;
        @t = sort { $a <=> $b } @t;
        printf "%.1f %.1f\n", $first, $t[2];' \
        "dbi:Pg:dbname=$1;host=$STATE/pg/sock;port=$PG_PORT" "$2" "${3:-}"
}

usage_phase() {
    local db=clientapi_usage params now until since t0 t1 rollups r hot cold q_hot q_cold q_samp
    local -a idx
    say "usage: $usage_rows request log rows over 30 days (generate_series)"
    createdb -h "$STATE/pg/sock" -p "$PG_PORT" -U clientapi "$db"
    params="host=$STATE/pg/sock port=$PG_PORT dbname=$db user=clientapi"
    ./clientapi migrate --driver pgsql --params "$params" --sql-dir sql >/dev/null
    now=$(date +%s); until=$((now + 1)); since=$((until - 30 * 86400))

    # secondary indexes are dropped during the load and rebuilt after it (much faster than
    # maintaining them row by row); their definitions come from the migrated schema
    mapfile -t idx < <(bpsql "$db" -c "SELECT indexdef FROM pg_indexes WHERE tablename = 'request_logs'
        AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'request_logs'::regclass)")
    t0=$(date +%s.%N)
    {
        echo 'SET synchronous_commit = off; SET maintenance_work_mem = '"'512MB'"';'
        bpsql "$db" -c "SELECT 'DROP INDEX ' || quote_ident(indexname) || ';' FROM pg_indexes
            WHERE tablename = 'request_logs' AND indexname NOT IN
            (SELECT conname FROM pg_constraint WHERE conrelid = 'request_logs'::regclass)"
        # half of the rows belong to ep_usage_hot, the rest to 50 endpoints (ep_usage_1, _3 ..
        # _99) of usage_rows/100 rows each; times spread evenly over the last 30 days
        cat <<SQL
INSERT INTO request_logs (endpoint_id, ts, method, resource, record_id, status, item_count,
                          duration_us, query, error_code, client_ip, user_agent, request_id)
SELECT CASE WHEN g % 2 = 0 THEN 'ep_usage_hot' ELSE 'ep_usage_' || (g % 100) END,
       $since + (g * (30 * 86400)) / $usage_rows,
       CASE WHEN g % 20 = 0 THEN 'POST' ELSE 'GET' END, 'jobs',
       CASE WHEN g % 3 = 0 THEN 'job_' || (g % 1000) END,
       CASE WHEN g % 97 = 0 THEN 404 WHEN g % 211 = 0 THEN 502 ELSE 200 END,
       CASE WHEN g % 3 = 0 THEN 1 ELSE 50 END, 500 + (g * 7919) % 20000,
       'limit=50', CASE WHEN g % 97 = 0 THEN 'not_found' END,
       '192.0.2.' || (g % 250), 'bench-usage/1', 'req_' || g
FROM generate_series(1::bigint, $usage_rows) AS g;
SQL
        printf '%s;\n' "${idx[@]}"
        echo 'VACUUM ANALYZE request_logs;'
    } | bpsql "$db" >/dev/null
    t1=$(date +%s.%N)

    # rows inserted with SQL do not reach the hourly rollups (the module maintains them as it
    # writes logs): `clientapi rollup rebuild` sums them, as after a hand load; another
    # rollup scheme can be filled with --rollup-fill FILE.sql instead
    rollups=$(bpsql "$db" -c "SELECT string_agg(table_name, ' ') FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name <> 'request_logs'
        AND table_name ~ '(rollup|hourly|usage)'")
    if [ -n "$rollups" ] && [ -n "$rollup_fill" ]; then
        say "filling rollups with $rollup_fill"
        bpsql "$db" -f "$rollup_fill" >/dev/null
        bpsql "$db" -c 'ANALYZE' >/dev/null
    elif [[ " $rollups " == *" request_rollups "* ]]; then
        say "filling request_rollups with clientapi rollup rebuild"
        ./clientapi rollup rebuild --driver pgsql --params "$params" >/dev/null
        bpsql "$db" -c 'ANALYZE' >/dev/null
    fi

    # arguments in the statement's order (--usage-args): bucket, endpoint, since, until
    args_for() { # args_for ENDPOINT
        local a out=()
        IFS=, read -r -a a <<<"$usage_args"
        for x in "${a[@]}"; do
            case $x in
                bucket) out+=(86400) ;; endpoint) out+=("$1") ;;
                since) out+=("$since") ;; until) out+=("$until") ;;
                *) die "--usage-args: unknown argument '$x'" ;;
            esac
        done
        printf '%s\n' "${out[@]}"
    }
    mapfile -t a_hot < <(args_for ep_usage_hot)
    mapfile -t a_cold < <(args_for ep_usage_1)
    q_hot=$(sql_with_args CA_SQL_USAGE_ENDPOINT "${a_hot[@]}")
    q_cold=$(sql_with_args CA_SQL_USAGE_ENDPOINT "${a_cold[@]}")
    # the duration-samples query is gone once percentiles come from the rollups' histogram
    q_samp=
    if grep -q '{CA_SQL_DURATIONS_ENDPOINT,' mod_clientapi/ca_store.c; then
        q_samp=$(sql_with_args CA_SQL_DURATIONS_ENDPOINT ep_usage_1 "$since" "$until")
    fi
    bpsql "$db" -c "EXPLAIN (ANALYZE, BUFFERS) $q_hot" >"$STATE/usage-explain-hot.txt"
    bpsql "$db" -c "EXPLAIN (ANALYZE, BUFFERS) $q_cold" >"$STATE/usage-explain-typical.txt"
    read -r hot_first hot_med <<<"$(time_sql "$db" "$q_hot")"
    read -r cold_first cold_med <<<"$(time_sql "$db" "$q_cold")"
    samp_first=-; samp_med=-
    [ -n "$q_samp" ] && read -r samp_first samp_med <<<"$(time_sql "$db" "$q_samp")"
    # PostgreSQL's JIT (on by default) compiles big aggregates; how much of the time is that
    read -r nojit_first nojit_med <<<"$(time_sql "$db" "$q_hot" 'SET jit = off')"

    echo "Usage chart query (CA_SQL_USAGE_ENDPOINT of ca_store.c, 30 days, bucket=day: the dashboard's 30-day view),"
    echo "$(bpsql "$db" -c 'SELECT count(*) FROM request_logs') rows in request_logs (loaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s, indexes rebuilt, VACUUM ANALYZE),"
    echo "timed from a client (DBD::Pg: execute and fetch every row): first run, then the median of 5 more."
    [ -n "$rollups" ] && echo "Rollup table(s) present: $rollups ($(for r in $rollups; do printf '%s=%s rows ' "$r" "$(bpsql "$db" -c "SELECT count(*) FROM $r")"; done))."
    echo
    echo '```sql'
    echo "$q_hot"
    echo '```'
    echo
    echo "| query | rows of that endpoint in range | first ms | median ms |"
    echo "|---|---|---|---|"
    echo "| usage, busiest endpoint (ep_usage_hot) | $(bpsql "$db" -c "SELECT count(*) FROM request_logs WHERE endpoint_id = 'ep_usage_hot'") | $hot_first | **$hot_med** |"
    echo "| usage, busiest endpoint, session with jit = off | same | $nojit_first | $nojit_med |"
    echo "| usage, typical endpoint (ep_usage_1) | $(bpsql "$db" -c "SELECT count(*) FROM request_logs WHERE endpoint_id = 'ep_usage_1'") | $cold_first | **$cold_med** |"
    if [ -n "$q_samp" ]; then
        echo "| duration samples, typical endpoint (the dashboard also runs it when the range has at most 200,000 requests) | same | $samp_first | $samp_med |"
    else
        echo "| duration samples: not in ca_store.c (percentiles come from the rollups' histogram) | - | - | - |"
    fi
    echo
    echo "Plans: $STATE/usage-explain-*.txt"
    echo
}
