#!/usr/bin/env bash
# Soak (issue 8 item 7): mixed traffic at 80 % of measured saturation against the provider
# sandbox, with sandbox faults switched on and off, then checks that nothing went wrong.
#   bench/soak.sh                    10 minutes
#   bench/soak.sh --duration 60      a short try
# Options: --duration S, --rate R (total req/s instead of 80 % of a measured saturation),
# --load PCT (default 80), --connections-scale N (default 1), --sample S (default 10).
# Exits non-zero on an unexpected 5xx, RSS growth over 5 % after warm-up, or lost log rows.
# Started as root it installs what is missing and re-runs itself as the user clientapi in
# CA_WORK_TREE (default ~clientapi/soak-tree). See bench/README.md.
set -euo pipefail
. "$(dirname "$0")/../build/lib.sh"

orig_args=("$@")
duration=600
rate=
load=80
scale=1
sample=10
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift ;;
        --rate) rate=$2; shift ;;
        --load) load=$2; shift ;;
        --connections-scale) scale=$2; shift ;;
        --sample) sample=$2; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see bench/soak.sh --help)" ;;
    esac
    shift
done

CA_PACKAGES+=(wrk)
[ "${CA_ALREADY_DEPS:-}" = 1 ] || install_deps
reexec_unprivileged ../bench/soak.sh soak-tree "${orig_args[@]}"

grep -qs fsanitize "$CA_ROOT/config.status" && export CA_RECONFIGURE=1
build_tree
cd "$CA_ROOT"
. "$CA_ROOT/bench/lib/common.sh"
STATE=$BENCH_DIR/state-soak
rm -rf "$STATE"
mkdir -p "$STATE/htdocs"
CONF=$STATE/httpd.conf
UPSTREAM_TIMEOUT=2

fault_pid=
sampler_pid=
cleanup() {
    local rc=$?
    [ -n "$fault_pid" ] && kill "$fault_pid" 2>/dev/null
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
    stop_httpd "$CONF"
    stop_pidfile "$STATE/sandbox.pid"
    pg_stop "$STATE/pg"
    exit $rc
}
trap cleanup EXIT INT TERM

start_pg
SB_PORT=$(free_port)
SB=http://127.0.0.1:$SB_PORT
say "provider sandbox on $SB"
sandbox_start "$SB_PORT" "$STATE/sandbox.log" "$STATE/sandbox.pid"
# the sandbox's own rate limit (1,000 per minute) would answer 429s: out of the way
curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"rate_limit":100000000,"rate_window":60}' "$SB/_sandbox/config" >/dev/null

# an OAuth connection to the sandbox (as build/start.sh makes) and a read-write endpoint
printf 'soak user password\n' | ./clientapi useradd --email soak@example.test >/dev/null
token_json=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{"user":"demo"}' \
    "$SB/_sandbox/tokens")
json_field() { perl -MJSON::PP -e 'print JSON::PP::decode_json($ARGV[0])->{$ARGV[1]}' "$1" "$2"; }
(umask 077; json_field "$token_json" access_token >"$STATE/at"; json_field "$token_json" refresh_token >"$STATE/rt")
conn=$(./clientapi connection add --user soak@example.test --provider sandbox --account-id acc_demo \
    --label Soak --access-token-file "$STATE/at" --refresh-token-file "$STATE/rt" \
    --expires-in "$(json_field "$token_json" expires_in)" 2>/dev/null)
rm -f "$STATE/at" "$STATE/rt"
unset token_json
ep_out=$(./clientapi endpoint add --connection "$conn" --scope "company:co_acme:Acme Plumbing Ltd" \
    --mode read-write --name soak 2>/dev/null)
EP=$(sed -n 's/^endpoint: //p' <<<"$ep_out")
AUTH="Bearer $(sed -n 's/^key: //p' <<<"$ep_out")"
unset ep_out
# bad keys: one that fails its checksum, one well formed but unknown (from `clientapi key`)
BAD_MALFORMED="Bearer cak_$(head -c 36 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
BAD_UNKNOWN="Bearer $(./clientapi key 2>/dev/null | sed -n 's/^key: //p')"

echo "sandbox-secret" >"$STATE/sandbox-client.secret"
chmod 600 "$STATE/sandbox-client.secret"
HTTPD_PORT=$(free_port)
export BENCH_STATE=$STATE BENCH_PORT=$HTTPD_PORT BENCH_ROOT=$CA_ROOT BENCH_MODULES=$(apxs -q LIBEXECDIR)
export BENCH_DBD_PARAMS=$DBD_PARAMS BENCH_PROVIDERS=$CA_ROOT/conf/providers BENCH_NGINX_PORT=9
export BENCH_PROVIDER_URLS="ClientAPIProviderURL sandbox \"$SB/api/v1\" \"auth=$SB\" local-sandbox
ClientAPIProviderURL clientcommander \"$SB/cc/v1\" local-sandbox
ClientAPIProviderClient sandbox sandbox-client \"file:$STATE/sandbox-client.secret\""
# bad keys are part of the mix: the per-address guard would turn them (and everything else
# from 127.0.0.1) into 429s after 30; the fault timeout is short so latency faults give 504s
export BENCH_EXTRA="ClientAPIAuthFailLimit off
ClientAPIUpstreamTimeout $UPSTREAM_TIMEOUT 1"
render bench/conf/httpd.conf.in "$CONF"
say "httpd on port $HTTPD_PORT"
start_httpd "$CONF"
base=http://127.0.0.1:$HTTPD_PORT/api/$EP

# the records the mix reads and writes; every kind answers as expected before the run
JOB=job_acme_1_01
expect() { # expect STATUS METHOD URL [BODY] [AUTH]
    local want=$1 method=$2 url=$3 body=${4:-} auth=${5:-$AUTH} got
    got=$(curl -sS -o "$STATE/probe" -w '%{http_code}' -X "$method" -H "Authorization: $auth" \
        ${body:+-H 'Content-Type: application/json' --data "$body"} "$url")
    [ "$got" = "$want" ] || { head -c 400 "$STATE/probe" >&2; echo >&2; die "$method $url: $got, expected $want"; }
}
POST_BODY='{"client_id":"cl_acme_1","title":"soak job"}'
PATCH_BODY='{"description":"touched by the soak"}'
expect 200 GET "$base/jobs"
expect 200 GET "$base/jobs/$JOB"
expect 201 POST "$base/jobs" "$POST_BODY"
expect 200 PATCH "$base/jobs/$JOB" "$PATCH_BODY"
expect 401 GET "$base/jobs" "" "$BAD_MALFORMED"
expect 401 GET "$base/jobs" "" "$BAD_UNKNOWN"

# --- the mix: one wrk process per kind of request -----------------------------------------
KINDS=(list item post patch bad)
declare -A CONNS=([list]=8 [item]=3 [post]=1 [patch]=1 [bad]=2)
declare -A KURL=([list]="$base/jobs" [item]="$base/jobs/$JOB" [post]="$base/jobs"
                 [patch]="$base/jobs/$JOB" [bad]="$base/jobs")
declare -A KBODY=([post]="$POST_BODY" [patch]="$PATCH_BODY")
for k in "${KINDS[@]}"; do CONNS[$k]=$(( CONNS[$k] * scale )); done

# run_mix DURATION OUTPREFIX [DELAY per kind as k=ms ...]: all kinds at once, waits for them
run_mix() {
    local d=$1 out=$2; shift 2
    local -A dl=()
    local kv k pids=()
    for kv in "$@"; do dl[${kv%%=*}]=${kv#*=}; done
    for k in "${KINDS[@]}"; do
        local auth=$AUTH
        [ "$k" = bad ] && auth="$BAD_MALFORMED|$BAD_UNKNOWN"
        SOAK_KIND=$k SOAK_AUTH=$auth SOAK_BODY=${KBODY[$k]:-} SOAK_DELAY_MS=${dl[$k]:-} \
            wrk -t1 -c"${CONNS[$k]}" -d"${d}s" --timeout 10s -s bench/lib/wrk-soak.lua \
            "${KURL[$k]}" >"$out.$k" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
}
sum_field() { # sum_field FILE-PREFIX KIND FIELD
    sed -n "s/^SUM $2 .*\b$3=\([0-9.]*\).*/\1/p" "$1.$2"
}
kind_rate() { # kind_rate FILE-PREFIX KIND
    awk -v r="$(sum_field "$1" "$2" requests)" -v d="$(sum_field "$1" "$2" duration_us)" \
        'BEGIN {printf "%.1f", r / (d / 1e6)}'
}

declare -A TARGET DELAY
if [ -z "$rate" ]; then
    say "saturation: 10 s of the mix, unpaced"
    run_mix 10 "$STATE/sat"
    total=0
    for k in "${KINDS[@]}"; do
        r=$(kind_rate "$STATE/sat" "$k")
        TARGET[$k]=$(awk -v r="$r" -v l="$load" 'BEGIN {printf "%.1f", r * l / 100}')
        total=$(awk -v t="$total" -v r="$r" 'BEGIN {printf "%.1f", t + r}')
    done
    say "saturation $total req/s; target $load %"
else
    # a given total rate: split like the connections
    nconn=0; for k in "${KINDS[@]}"; do nconn=$((nconn + CONNS[$k])); done
    for k in "${KINDS[@]}"; do
        TARGET[$k]=$(awk -v r="$rate" -v c="${CONNS[$k]}" -v n="$nconn" 'BEGIN {printf "%.1f", r * c / n}')
    done
    total="(given) $rate"
fi
# pacing: every connection pauses DELAY ms after each answer; a 5-second probe measures the
# latency at that load and corrects the pause once
for k in "${KINDS[@]}"; do
    DELAY[$k]=$(awk -v c="${CONNS[$k]}" -v t="${TARGET[$k]}" 'BEGIN {d = int(c * 1000 / t); print (d < 1 ? 1 : d)}')
done
args=(); for k in "${KINDS[@]}"; do args+=("$k=${DELAY[$k]}"); done
run_mix 5 "$STATE/probe" "${args[@]}"
for k in "${KINDS[@]}"; do
    mean_ms=$(awk -v m="$(sum_field "$STATE/probe" "$k" mean_us)" 'BEGIN {print m / 1000}')
    DELAY[$k]=$(awk -v c="${CONNS[$k]}" -v t="${TARGET[$k]}" -v m="$mean_ms" \
        'BEGIN {d = int(c * 1000 / t - m + 0.5); print (d < 1 ? 1 : d)}')
done
args=(); for k in "${KINDS[@]}"; do args+=("$k=${DELAY[$k]}"); done
say "pauses per connection (ms): ${args[*]}"

# --- what happens during the run: faults, samples ------------------------------------------
# Faults cycle: FAULT_ON seconds on, FAULT_OFF off; "on T FAULT" / "off T" go to the timeline.
FAULTS=('{"status":500}' '{"malformed":true}' '{"latency_ms":3000}' '{"truncated":true}'
        '{"drop":true}' '{"status":503,"retry_after":1}' '{"latency_ms":300}' '{"expire_tokens":true}')
FAULT_ON=6
FAULT_OFF=9
fault_loop() {
    local i=0 f
    sleep "$FAULT_OFF"
    while :; do
        f=${FAULTS[$((i % ${#FAULTS[@]}))]}
        echo "on $(date +%s) $f" >>"$STATE/faults.timeline"
        curl -fsS -X POST -H 'Content-Type: application/json' -d "$f" "$SB/_sandbox/faults" >/dev/null
        sleep "$FAULT_ON"
        curl -fsS -X DELETE "$SB/_sandbox/faults" >/dev/null
        echo "off $(date +%s)" >>"$STATE/faults.timeline"
        i=$((i + 1))
        sleep "$FAULT_OFF"
    done
}
pg_conns() {
    bpsql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'clientapi' AND pid <> pg_backend_pid()"
}
sampler() {
    local t0 kids
    t0=$(date +%s)
    while :; do
        mapfile -t kids < <(child_pids "$STATE/httpd.pid")
        echo "$(( $(date +%s) - t0 )) $(rss_kb "${kids[@]}") $(fd_count "${kids[@]}") $(pg_conns) ${#kids[@]}"
        sleep "$sample"
    done >"$STATE/samples"
}
log_rows() { bpsql -c 'SELECT count(*) FROM request_logs'; }
# wait until the request log stops growing (an asynchronous writer may still be flushing)
settled_rows() {
    local last=-1 now same=0
    for _ in $(seq 1 120); do
        now=$(log_rows)
        if [ "$now" = "$last" ]; then same=$((same + 1)); [ $same -ge 3 ] && break; else same=0; fi
        last=$now
        sleep 1
    done
    echo "$last"
}

rows0=$(settled_rows)
say "soak: $duration s at $load % of saturation ($total req/s measured), faults $FAULT_ON s on / $FAULT_OFF s off"
: >"$STATE/faults.timeline"
fault_loop & fault_pid=$!
sampler & sampler_pid=$!
t_start=$(date +%s)
run_mix "$duration" "$STATE/run" "${args[@]}"
t_end=$(date +%s)
kill "$fault_pid" "$sampler_pid" 2>/dev/null || true
wait "$fault_pid" "$sampler_pid" 2>/dev/null || true
fault_pid= sampler_pid=
curl -fsS -X DELETE "$SB/_sandbox/faults" >/dev/null
mapfile -t kids < <(child_pids "$STATE/httpd.pid")
echo "$(( $(date +%s) - t_start )) $(rss_kb "${kids[@]}") $(fd_count "${kids[@]}") $(pg_conns) ${#kids[@]}" >>"$STATE/samples"
rows1=$(settled_rows)

# --- report --------------------------------------------------------------------------------
# warm-up: one whole fault cycle when the run is long enough (the first 3-second stall keeps
# every connection's worker busy at once, and those threads' allocators grow once: a high-water
# mark, not a leak), else a quarter of the run
cycle=$(( ${#FAULTS[@]} * (FAULT_ON + FAULT_OFF) ))
warmup=$(( duration >= 2 * cycle ? cycle : duration / 4 ))
cat "$STATE"/run.* | grep -E '^(S|F|SUM) ' >"$STATE/counts"
REPORT=$STATE/report.md
perl bench/lib/soak-report.pl --counts "$STATE/counts" --faults "$STATE/faults.timeline" \
    --samples "$STATE/samples" --warmup "$warmup" --grace $((UPSTREAM_TIMEOUT + 2)) \
    --rows "$((rows1 - rows0))" --duration "$duration" --load "$load" --saturation "$total" \
    --start "$t_start" --end "$t_end" >"$REPORT" && rc=0 || rc=$?
cat "$REPORT"
say "report in $REPORT"
exit $rc
