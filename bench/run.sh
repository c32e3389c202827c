#!/usr/bin/env bash
# The benchmark (issue 7): mod_clientapi against plain mod_proxy on the same static upstream.
#   bench/run.sh                       every phase (8-11 minutes on a busy 2-CPU machine)
#   bench/run.sh --quick               short rounds, 1M usage rows (a smoke run)
#   bench/run.sh --phases a,b,d        some phases only
# Phases: nginx (the upstream alone), a (mod_proxy), b (list, 50 records), b2 (list, 1,000),
# c (one record), d (describe call vs a static file), half (added p99 at half of (a)'s
# saturation), rss (RSS before/after 100k requests), usage (dashboard usage query, 10M rows).
# Options: --duration S (one round of one target), --rounds N, --connections N, --threads N,
# --usage-rows N, --usage-args LIST, --rollup-fill FILE.sql. See bench/README.md.
# Started as root it installs what is missing and re-runs itself as the user clientapi in
# CA_WORK_TREE (default ~clientapi/bench-tree).
set -euo pipefail
. "$(dirname "$0")/../build/lib.sh"

orig_args=("$@")
phases=nginx,a,b,b2,c,d,half,rss,usage
duration=5
rounds=3
conns=32
threads=2
usage_rows=10000000
usage_args=bucket,bucket,endpoint,since,until
rollup_fill=
rss_requests=100000
commit=$(git -C "$CA_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
while [ $# -gt 0 ]; do
    case $1 in
        --quick) duration=2; rounds=1; usage_rows=1000000; rss_requests=20000 ;;
        --phases) phases=$2; shift ;;
        --duration) duration=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --connections) conns=$2; shift ;;
        --threads) threads=$2; shift ;;
        --usage-rows) usage_rows=$2; shift ;;
        --usage-args) usage_args=$2; shift ;;
        --rollup-fill) rollup_fill=$2; shift ;;
        --rss-requests) rss_requests=$2; shift ;;
        --commit) commit=$2; shift ;;   # passed on by the root run (the copy has no .git)
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see bench/run.sh --help)" ;;
    esac
    shift
done
has() { [[ ,$phases, == *,$1,* ]]; }
for p in ${phases//,/ }; do
    case $p in nginx|a|b|b2|c|d|half|rss|usage) ;; *) die "--phases: unknown phase '$p'" ;; esac
done

CA_PACKAGES+=(nginx-light wrk)
[ "${CA_ALREADY_DEPS:-}" = 1 ] || install_deps
reexec_unprivileged ../bench/run.sh bench-tree "${orig_args[@]}" --commit "$commit"

# a sanitizer build from build/test.sh would measure ASan, not the module
grep -qs fsanitize "$CA_ROOT/config.status" && export CA_RECONFIGURE=1
build_tree
cd "$CA_ROOT"
CFLAGS_USED=$(sed -n 's/^S\["CFLAGS"\]="\(.*\)"$/\1/p' config.status)
case " $CFLAGS_USED " in *" -O2 "*) ;; *) say "warning: CFLAGS are '$CFLAGS_USED', not -O2" ;; esac

. "$CA_ROOT/bench/lib/common.sh"
STATE=$BENCH_DIR/state
rm -rf "$STATE"
mkdir -p "$STATE/nginx" "$STATE/htdocs"
CONF=$STATE/httpd.conf

cleanup() {
    local rc=$?
    stop_httpd "$CONF"
    [ -s "$STATE/nginx/nginx.pid" ] && kill "$(cat "$STATE/nginx/nginx.pid")" 2>/dev/null
    pg_stop "$STATE/pg"
    [ $rc -ne 0 ] && [ -f "$STATE/error_log" ] && { say "last lines of $STATE/error_log:"; tail -n 20 "$STATE/error_log" >&2; }
    exit $rc
}
trap cleanup EXIT INT TERM

start_pg

# --- the upstream: static provider answers served by nginx --------------------------------
say "generating provider answers"
perl bench/lib/gen-upstream.pl "$STATE/upstream" >"$STATE/upstream.sizes"
NGINX_PORT=$(free_port)
export BENCH_STATE=$STATE BENCH_NGINX_PORT=$NGINX_PORT
render bench/conf/nginx.conf.in "$STATE/nginx/nginx.conf"
say "nginx on port $NGINX_PORT"
nginx -p "$STATE/nginx" -e "$STATE/nginx/error.log" -c "$STATE/nginx/nginx.conf"
wait_port "$NGINX_PORT"

# --- a user, an API-key connection to the upstream, a company-scoped read-only endpoint -----
printf 'bench user password\n' | ./clientapi useradd --email bench@example.test >/dev/null
(umask 077; echo bench_static_upstream_key >"$STATE/upstream.key")
conn=$(./clientapi connection add --user bench@example.test --provider bench \
    --account-id co_bench --label Bench --api-key-file "$STATE/upstream.key" 2>/dev/null)
ep_out=$(./clientapi endpoint add --connection "$conn" --scope "company:co_bench:Bench Co" \
    --mode read-only --name bench 2>/dev/null)
EP=$(sed -n 's/^endpoint: //p' <<<"$ep_out")
BENCH_AUTH="Bearer $(sed -n 's/^key: //p' <<<"$ep_out")"
export BENCH_AUTH     # read by bench/lib/wrk-report.lua; never printed
unset ep_out

# --- httpd -------------------------------------------------------------------------------
HTTPD_PORT=$(free_port)
export BENCH_PORT=$HTTPD_PORT BENCH_ROOT=$CA_ROOT BENCH_MODULES=$(apxs -q LIBEXECDIR)
export BENCH_DBD_PARAMS=$DBD_PARAMS BENCH_PROVIDERS=$CA_ROOT/bench/provider/bench.json
export BENCH_PROVIDER_URLS="ClientAPIProviderURL bench \"http://127.0.0.1:$NGINX_PORT/v1\" local-sandbox"
export BENCH_EXTRA="ClientAPIAuthFailLimit off"
render bench/conf/httpd.conf.in "$CONF"
say "httpd on port $HTTPD_PORT ($("$HTTPD" -v | sed -n 's/^Server version: //p'), event MPM)"
start_httpd "$CONF"

base=http://127.0.0.1:$HTTPD_PORT
declare -A URL=(
    [nginx]="http://127.0.0.1:$NGINX_PORT/v1/jobs.json"
    [a]="$base/proxy/jobs.json"
    [b]="$base/api/$EP/jobs"
    [b2]="$base/api/$EP/bigjobs?limit=1000"
    [c]="$base/api/$EP/jobs/job_0007"
    [d]="$base/api/$EP"
    [static]="$base/describe.json"
)
declare -A AUTHED=([b]=1 [b2]=1 [c]=1 [d]=1)
declare -A LABEL=(
    [nginx]="nginx alone, 50-record file"
    [a]="(a) mod_proxy, 50-record file"
    [b]="(b) mod_clientapi list, 50 records"
    [b2]="(b2) mod_clientapi list, 1,000 records"
    [c]="(c) mod_clientapi one record"
    [d]="(d) describe call (auth only)"
    [static]="(d') static file, same bytes, same httpd"
)

# the describe answer, saved as the static file of (d')
curl -fsS -H "Authorization: $BENCH_AUTH" -o "$STATE/htdocs/describe.json" "${URL[d]}"

# every URL answers 200 before anything is measured; sizes for the report
declare -A SIZE COUNT
for t in nginx a b b2 c d static; do
    hdr=()
    [ -n "${AUTHED[$t]:-}" ] && hdr=(-H "Authorization: $BENCH_AUTH")
    code=$(curl -sS "${hdr[@]}" -o "$STATE/probe.$t" -w '%{http_code}' "${URL[$t]}")
    [ "$code" = 200 ] || { head -c 600 "$STATE/probe.$t" >&2; echo >&2; die "$t: ${URL[$t]} answered $code"; }
    SIZE[$t]=$(stat -c %s "$STATE/probe.$t")
    COUNT[$t]=$(perl -MJSON::PP -0777 -ne 'my $j = eval { decode_json($_) } or exit;
        print ref $j->{data} eq "ARRAY" ? scalar @{$j->{data}} : "-"' "$STATE/probe.$t")
done

# --- measuring ---------------------------------------------------------------------------
pidfile_of() { case $1 in nginx) echo "$STATE/nginx/nginx.pid" ;; *) echo "$STATE/httpd.pid" ;; esac; }
pg_pidfile=$STATE/pg/data/postmaster.pid

# sql_counts: "auth cred logw logrows other total" since the last pg_stat_statements_reset().
# mod_dbd's statements are prepared: their text is "PREPARE name (types) AS <statement>".
sql_counts() {
    bpsql -F ' ' -c "
      WITH s AS (SELECT regexp_replace(query, '^\s*prepare\s+\S+\s*(\([^)]*\))?\s*as\s+', '', 'i') AS query,
                        calls, rows FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'clientapi')
                   AND query !~* 'pg_stat_statements')
      SELECT coalesce(sum(calls) FILTER (WHERE query ~* '^\s*select' AND query ~* '(endpoint_keys|from endpoints)'), 0),
             coalesce(sum(calls) FILTER (WHERE query ~* '^\s*select' AND query !~* '(endpoint_keys|from endpoints)' AND query ~* 'provider_connections'), 0),
             coalesce(sum(calls) FILTER (WHERE query ~* '^\s*(insert|copy)' AND query ~* 'request_logs'), 0),
             coalesce(sum(rows) FILTER (WHERE query ~* '^\s*(insert|copy)' AND query ~* 'request_logs'), 0),
             0, coalesce(sum(calls), 0) FROM s"
}

# wrk_once TARGET DURATION CONNECTIONS [VAR=VALUE...]: prints wrk's RESULT line
wrk_once() {
    local t=$1 d=$2 c=$3; shift 3
    local th=$threads
    local -a e=("$@")
    [ "$c" -lt "$th" ] && th=$c
    if [ -n "${AUTHED[$t]:-}" ]; then e+=(BENCH_AUTH="$BENCH_AUTH"); else e+=(BENCH_AUTH=); fi
    env "${e[@]}" wrk -t"$th" -c"$c" -d"${d}s" --timeout 10s -s bench/lib/wrk-report.lua "${URL[$t]}" \
        | sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

declare -A RPS P50 P99 REQ ERR CPU_HTTPD CPU_PG CPU_NGINX SQL_AUTH SQL_CRED SQL_LOG SQL_LOGROWS SQL_TOTAL
# measure TARGET: one saturation round; accumulates requests, CPU ticks and SQL calls
measure() {
    local t=$1 res h0 h1 g0 g1 n0 n1 sql req dur
    bpsql -c 'SELECT pg_stat_statements_reset()' >/dev/null
    h0=$(cpu_ticks $(tree_pids "$STATE/httpd.pid"))
    n0=$(cpu_ticks $(tree_pids "$STATE/nginx/nginx.pid"))
    g0=$(cpu_ticks $(tree_pids "$pg_pidfile"))
    res=$(wrk_once "$t" "$duration" "$conns")
    h1=$(cpu_ticks $(tree_pids "$STATE/httpd.pid"))
    n1=$(cpu_ticks $(tree_pids "$STATE/nginx/nginx.pid"))
    g1=$(cpu_ticks $(tree_pids "$pg_pidfile"))
    sleep 1   # let a background log writer flush before counting statements
    read -r sa sc sl slr _ st <<<"$(sql_counts)"
    bpsql -F ' | ' -c "SELECT calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
        FROM pg_stat_statements ORDER BY calls DESC LIMIT 15" >"$STATE/sql.$t.txt"
    req=$(field requests "$res"); dur=$(field duration_us "$res")
    RPS[$t]+="$(awk -v r="$req" -v d="$dur" 'BEGIN {printf "%.0f", r / (d / 1e6)}') "
    P50[$t]+="$(field p50_us "$res") "
    P99[$t]+="$(field p99_us "$res") "
    REQ[$t]=$(( ${REQ[$t]:-0} + req ))
    ERR[$t]=$(( ${ERR[$t]:-0} + $(field err_status "$res") + $(field err_connect "$res") \
        + $(field err_read "$res") + $(field err_timeout "$res") ))
    CPU_HTTPD[$t]=$(( ${CPU_HTTPD[$t]:-0} + h1 - h0 ))
    CPU_NGINX[$t]=$(( ${CPU_NGINX[$t]:-0} + n1 - n0 ))
    CPU_PG[$t]=$(( ${CPU_PG[$t]:-0} + g1 - g0 ))
    SQL_AUTH[$t]=$(( ${SQL_AUTH[$t]:-0} + sa )); SQL_CRED[$t]=$(( ${SQL_CRED[$t]:-0} + sc ))
    SQL_LOG[$t]=$(( ${SQL_LOG[$t]:-0} + sl )); SQL_LOGROWS[$t]=$(( ${SQL_LOGROWS[$t]:-0} + slr ))
    SQL_TOTAL[$t]=$(( ${SQL_TOTAL[$t]:-0} + st ))
    printf '  %-42s %8s req/s  p50 %6s us  p99 %6s us\n' "${LABEL[$t]}" \
        "$(awk -v r="$req" -v d="$dur" 'BEGIN {printf "%.0f", r / (d / 1e6)}')" \
        "$(field p50_us "$res")" "$(field p99_us "$res")" >&2
}
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
per_req() { awk -v a="$1" -v n="$2" -v k="${3:-1}" 'BEGIN {if (n > 0) printf "%.3f", a * k / n; else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

targets=()
for t in nginx a b b2 c d; do has "$t" && targets+=("$t"); done
has d && targets+=(static)
has half && ! has a && targets=(a "${targets[@]}")   # half needs (a)'s saturation

OUT=$STATE/results.md
{
    echo "### Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
    echo
    echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GiB;"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); CFLAGS '$CFLAGS_USED'."
    echo "wrk -t$threads -c$conns, $rounds round(s) of ${duration}s per target, interleaved; req/s and latencies are medians of the rounds."
    echo "Upstream sizes: $(tr '\n' ' ' <"$STATE/upstream.sizes")(bytes)."
    echo
} >"$OUT"

if [ ${#targets[@]} -gt 0 ]; then
    say "warm-up"
    for t in "${targets[@]}"; do wrk_once "$t" 1 "$conns" >/dev/null; done
    for r in $(seq 1 "$rounds"); do
        say "round $r of $rounds (${duration}s per target)"
        for t in "${targets[@]}"; do measure "$t"; done
    done
    A_RPS=$( [ -n "${RPS[a]:-}" ] && median "${RPS[a]}" || echo 0)
    {
        echo "| target | bytes | records | req/s | vs (a) | p50 ms | p99 ms | errors | httpd CPU us/req | PG CPU us/req | SQL/req: auth | credentials | log writes | log rows | all |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        for t in "${targets[@]}"; do
            rps=$(median "${RPS[$t]}")
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
                "${LABEL[$t]}" "${SIZE[$t]}" "${COUNT[$t]}" "$rps" "$(ratio "$rps" "$A_RPS")" \
                "$(per_req "$(median "${P50[$t]}")" 1000)" "$(per_req "$(median "${P99[$t]}")" 1000)" \
                "${ERR[$t]}" \
                "$(per_req "$( [ "$t" = nginx ] && echo "${CPU_NGINX[$t]}" || echo "${CPU_HTTPD[$t]}")" "${REQ[$t]}" $((1000000 / HZ)))" \
                "$(per_req "${CPU_PG[$t]}" "${REQ[$t]}" $((1000000 / HZ)))" \
                "$(per_req "${SQL_AUTH[$t]}" "${REQ[$t]}")" "$(per_req "${SQL_CRED[$t]}" "${REQ[$t]}")" \
                "$(per_req "${SQL_LOG[$t]}" "${REQ[$t]}")" "$(per_req "${SQL_LOGROWS[$t]}" "${REQ[$t]}")" \
                "$(per_req "${SQL_TOTAL[$t]}" "${REQ[$t]}")"
        done
        echo
        [ -n "${RPS[b]:-}" ] && [ -n "${RPS[a]:-}" ] && echo "- ratio b/a (req/s): **$(ratio "$(median "${RPS[b]}")" "$A_RPS")** (target at least 0.8)"
        [ -n "${RPS[b2]:-}" ] && [ -n "${RPS[a]:-}" ] && echo "- ratio b2/a: $(ratio "$(median "${RPS[b2]}")" "$A_RPS")"
        [ -n "${RPS[c]:-}" ] && [ -n "${RPS[a]:-}" ] && echo "- ratio c/a: $(ratio "$(median "${RPS[c]}")" "$A_RPS")"
        [ -n "${RPS[d]:-}" ] && echo "- ratio d/static (describe vs the same bytes as a file): $(ratio "$(median "${RPS[d]}")" "$(median "${RPS[static]}")")"
        [ -n "${RPS[nginx]:-}" ] && [ -n "${RPS[a]:-}" ] && echo "- nginx alone / (a): $(ratio "$(median "${RPS[nginx]}")" "$A_RPS") (above 1: the upstream is not what limits (a))"
        [ -n "${RPS[a]:-}" ] && [ -n "${CPU_HTTPD[b]:-}" ] && echo "- httpd CPU per request, b/a: $(ratio "$(per_req "${CPU_HTTPD[b]}" "${REQ[b]}")" "$(per_req "${CPU_HTTPD[a]}" "${REQ[a]}")")"
        echo
    } >>"$OUT"
fi

# --- added p99 at half of (a)'s saturation -------------------------------------------------
# Paced driver: wrk's delay() makes every connection wait PACE ms after each answer, so the
# offered rate is about connections / (PACE + latency). The number of connections is
# calibrated with two 3-second probes until the achieved rate is within a few % of the
# target, then a full round is measured. Same target rate for (a) and (b).
pace_ms=2
paced() { # paced TARGET RATE: prints "rate p50_us p99_us connections"
    local t=$1 want=$2 c res got i
    c=$(awk -v w="$want" -v p="$pace_ms" 'BEGIN {c = int(w * (p + 0.3) / 1000 + 0.5); print (c < 2 ? 2 : c)}')
    for i in 1 2 3 4 5; do
        res=$(wrk_once "$t" 2 "$c" BENCH_DELAY_MS=$pace_ms)
        got=$(awk -v r="$(field requests "$res")" -v d="$(field duration_us "$res")" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
        awk -v g="$got" -v w="$want" 'BEGIN {exit !(g > w * 0.97 && g < w * 1.03)}' && break
        # never more connections than httpd has threads: beyond that the rate cannot be reached
        c=$(awk -v c="$c" -v g="$got" -v w="$want" -v m=$((conns * 3)) \
            'BEGIN {n = int(c * w / g + 0.5); n = n < 2 ? 2 : n; print (n > m ? m : n)}')
    done
    res=$(wrk_once "$t" "$((duration * 2))" "$c" BENCH_DELAY_MS=$pace_ms)
    got=$(awk -v r="$(field requests "$res")" -v d="$(field duration_us "$res")" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
    echo "$got $(field p50_us "$res") $(field p99_us "$res") $c"
}
half_table() { # half_table RATE WHAT: paced (a) and (b) at RATE, Markdown
    local rate=$1 what=$2 ha_rate ha_p50 ha_p99 ha_c hb_rate hb_p50 hb_p99 hb_c
    say "half load: $rate req/s offered to (a) and (b) ($what)"
    read -r ha_rate ha_p50 ha_p99 ha_c <<<"$(paced a "$rate")"
    read -r hb_rate hb_p50 hb_p99 hb_c <<<"$(paced b "$rate")"
    echo "$rate req/s offered ($what), paced wrk: ${pace_ms} ms pause per connection after each answer."
    echo
    echo "| target | connections | achieved req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    echo "| (a) mod_proxy | $ha_c | $ha_rate | $(per_req "$ha_p50" 1000) | $(per_req "$ha_p99" 1000) |"
    echo "| (b) mod_clientapi list | $hb_c | $hb_rate | $(per_req "$hb_p50" 1000) | $(per_req "$hb_p99" 1000) |"
    echo
    if ! awk -v g="$ha_rate" -v w="$rate" 'BEGIN {exit !(g > w * 0.9 && g < w * 1.1)}'; then
        echo "- (a) did not settle within 10 % of the offered rate: the two p99 are at different loads"
    fi
    if awk -v g="$hb_rate" -v w="$rate" 'BEGIN {exit !(g > w * 0.9)}'; then
        echo "- added p99 ($what): **$(awk -v b="$hb_p99" -v a="$ha_p99" 'BEGIN {printf "%.3f", (b - a) / 1000}') ms** (target under 2 ms)"
    else
        echo "- added p99 ($what): not measurable, (b) saturates below the offered rate (latency is queueing)"
    fi
    echo
}
if has half; then
    [ -n "${RPS[a]:-}" ] || die "phase half needs (a)"
    half_a=$(( $(median "${RPS[a]}") / 2 ))
    { echo "#### Added p99 at half load"; echo; half_table "$half_a" "half of (a)'s saturation"; } >>"$OUT"
    if [ -n "${RPS[b]:-}" ] && [ "$(median "${RPS[b]}")" -lt "$half_a" ]; then
        # (b) cannot carry half of (a)'s load: also compare both at half of (b)'s own saturation
        half_table "$(( $(median "${RPS[b]}") / 2 ))" "half of (b)'s saturation" >>"$OUT"
    fi
fi

# --- RSS of httpd's children before and after a fixed number of requests -------------------
if has rss; then
    say "RSS: $rss_requests requests of (b)"
    warm=$(wrk_once b 2 "$conns")   # warm-up (every worker thread has served) and the rate
    rate=$(awk -v r="$(field requests "$warm")" -v d="$(field duration_us "$warm")" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
    mapfile -t kids < <(child_pids "$STATE/httpd.pid")
    rss0=$(rss_kb "${kids[@]}")
    # each wrk thread stops after its share; wrk still waits out -d, so -d is sized from the rate
    res=$(wrk_once b "$(( rss_requests * 3 / 2 / (rate > 0 ? rate : 1) + 5 ))" "$conns" \
        BENCH_MAX_PER_THREAD=$(( rss_requests / threads )))
    mapfile -t kids1 < <(child_pids "$STATE/httpd.pid")
    rss1=$(rss_kb "${kids1[@]}")
    {
        echo "RSS of httpd's ${#kids[@]} children (sum of VmRSS) around $(field requests "$res") requests of (b) after warm-up:"
        echo "$rss0 KiB before, $rss1 KiB after: **$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {printf "%+.1f", (b - a) * 100 / a}') %** (target under 5 %)."
        [ "${kids[*]}" = "${kids1[*]}" ] || echo "(the set of children changed during the run: ${kids[*]} -> ${kids1[*]})"
        echo
    } >>"$OUT"
fi

# --- the dashboard's usage query over many log rows --------------------------------------
if has usage; then
    . bench/lib/usage.sh
    usage_phase >>"$OUT"
fi

stop_httpd "$CONF"
echo
cat "$OUT"
say "results also in $OUT"
