#!/usr/bin/env bash
# Build the libFuzzer targets of fuzz/ and run each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (run from anywhere; SECONDS per target)
#
# SECONDS defaults to $CA_FUZZ_SECONDS, else 60. TARGETs: key route scope provider (default
# all). Needs clang with the libFuzzer runtime (Debian: clang-14 and libclang-rt-14-dev; llvm-14
# for llvm-symbolizer is optional). Everything is built and run in a temporary directory; the seed
# corpora in fuzz/corpus/ are only read. Exit status: 0 when every target ran clean, 1 when one
# crashed, leaked, timed out or broke an invariant (its reproducer is printed and kept),
# 2 when the fuzzers could not be built.
#
# Environment:
#   CA_FUZZ_SECONDS   time per target when no SECONDS argument is given (60)
#   CA_FUZZ_CC        the compiler (clang, else clang-14)
#   CA_FUZZ_WORK      work directory to use (default: a new mktemp -d, removed on success)
#   CA_FUZZ_KEEP=1    keep the work directory (binaries, new corpus entries, logs)
#   CA_FUZZ_JOBS      run this many targets at once (1)
#   CA_FUZZ_ARGS      extra libFuzzer flags for every target
#   CA_FUZZ_ASAN_OPTIONS  appended to the ASAN_OPTIONS set here (inherited ones are ignored)
#   CA_FUZZ_KNOWN     known core bugs to let pass (docs/fuzzing.md)
#   CA_PROVIDER_DIR   provider definitions for fuzz_scope (conf/providers)
#
# Output: one line per target, parsed by t/fuzz/fuzz.t:
#   fuzz: TARGET ok runs=N exec_per_sec=E cov=C ft=F corpus=K seconds=S
#   fuzz: TARGET FAILED (crash|leak|timeout|oom|build|...) reproducer=PATH
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

ALL_TARGETS=(key route scope provider)
declare -A MAX_LEN=([key]=256 [route]=4096 [scope]=8192 [provider]=16384)
TIMEOUT=10           # seconds for one input (sanitizers make things slow, not this slow)
RSS_MB=2048

secs=${CA_FUZZ_SECONDS:-60}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "fuzz: bad time '$secs'" >&2
    exit 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    if [ -z "${MAX_LEN[$t]:-}" ]; then
        echo "fuzz: unknown target '$t' (${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

say() { printf 'fuzz: %s\n' "$*"; }
work=
made_work=0
build_fail() {
    for t in "${targets[@]}"; do say "$t FAILED (build) $*"; done
    [ "$made_work" = 1 ] && [ "${CA_FUZZ_KEEP:-}" != 1 ] && rm -rf "$work"
    exit 2
}

# ---- toolchain ------------------------------------------------------------------------------
CC=${CA_FUZZ_CC:-}
if [ -z "$CC" ]; then
    for c in clang clang-14; do command -v "$c" >/dev/null 2>&1 && { CC=$c; break; }; done
fi
if [ -z "$CC" ] || ! command -v "$CC" >/dev/null 2>&1; then
    build_fail "reason=no clang (Debian: apt-get install clang-14 libclang-rt-14-dev)"
fi
for tool in apr-1-config apu-1-config pkg-config; do
    command -v $tool >/dev/null 2>&1 || build_fail "reason=$tool missing"
done

if [ -n "${CA_FUZZ_WORK:-}" ]; then
    work=$CA_FUZZ_WORK
    mkdir -p "$work" || exit 2
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/ca-fuzz.XXXXXX") || exit 2
    made_work=1
fi
mkdir -p "$work/obj" "$work/bin" "$work/log"

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer $SAN"
CPPFLAGS="$(apr-1-config --cppflags --cflags --includes) $(apu-1-config --includes)"
CPPFLAGS="$CPPFLAGS $(pkg-config --cflags libcjson libcurl openssl) -Imod_clientapi -Ifuzz -It/unit"
LIBS="$(apr-1-config --link-ld --libs) $(apu-1-config --link-ld --libs) -lcjson -lcurl -lcrypto"

# the fuzzer runtime is there (clang alone, without libclang-rt-14-dev, cannot link this)
cat >"$work/probe.c" <<'EOF'
#include <stdint.h>
#include <stddef.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
EOF
# shellcheck disable=SC2086
if ! $CC $SAN -o "$work/probe" "$work/probe.c" >"$work/log/probe.log" 2>&1; then
    cat "$work/log/probe.log" >&2
    build_fail "reason=no libFuzzer runtime for $CC (Debian: apt-get install libclang-rt-14-dev)"
fi

# ---- build ----------------------------------------------------------------------------------
CORE=(ca_crypto ca_key ca_json ca_scope ca_provider ca_http ca_route)
build_one() {   # build_one SRC OBJ EXTRA_FLAGS
    # shellcheck disable=SC2086
    $CC $CFLAGS $3 $CPPFLAGS -c "$1" -o "$2" >"$2.log" 2>&1 || { cat "$2.log" >&2; return 1; }
}
pids=()
for c in "${CORE[@]}"; do
    build_one "mod_clientapi/$c.c" "$work/obj/$c.o" "-Wall -Wextra" & pids+=($!)
done
build_one fuzz/fuzz_common.c "$work/obj/fuzz_common.o" "-Wall -Wextra -Werror" & pids+=($!)
# the unit tests' oracle for ca_json_scan_records (fuzz_scope checks every input with it)
build_one t/unit/records_oracle.c "$work/obj/records_oracle.o" "-Wall -Wextra -Werror" & pids+=($!)
for t in "${targets[@]}"; do
    build_one "fuzz/fuzz_$t.c" "$work/obj/fuzz_$t.o" "-Wall -Wextra -Werror" & pids+=($!)
done
ok=1
for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
[ $ok = 1 ] || build_fail "reason=compile error (see above)"
core_objs=()
for c in "${CORE[@]}"; do core_objs+=("$work/obj/$c.o"); done
for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$work/bin/fuzz_$t" "$work/obj/fuzz_$t.o" "$work/obj/fuzz_common.o" \
        "$work/obj/records_oracle.o" \
        "${core_objs[@]}" $LIBS -ldl >"$work/log/link_$t.log" 2>&1 \
        || { cat "$work/log/link_$t.log" >&2; build_fail "reason=link error for $t"; }
done

# ---- run ------------------------------------------------------------------------------------
export CA_PROVIDER_DIR=${CA_PROVIDER_DIR:-$ROOT/conf/providers}
# our own sanitizer options, whatever the caller's environment says (build/test.sh exports
# ASAN_OPTIONS with detect_leaks=0 and a log_path for httpd when CA_SANITIZERS=1)
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:handle_abort=1
export ASAN_OPTIONS=$ASAN_OPTIONS${CA_FUZZ_ASAN_OPTIONS:+:$CA_FUZZ_ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
unset LSAN_OPTIONS LD_PRELOAD
# readable stacks: llvm-symbolizer (Debian llvm-14) when it is not on PATH; else addr2line
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for s in /usr/lib/llvm-14/bin/llvm-symbolizer /usr/bin/llvm-symbolizer-14; do
        [ -x "$s" ] && { export ASAN_SYMBOLIZER_PATH=$s; break; }
    done
fi

run_one() {   # run_one TARGET: fuzz it, then print its result line
    local t=$1 log rc art kind runs eps cov ft corp
    log="$work/log/$t.log"
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    # shellcheck disable=SC2086
    "$work/bin/fuzz_$t" -max_total_time="$secs" -max_len="${MAX_LEN[$t]}" \
        -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t/" ${CA_FUZZ_ARGS:-} \
        "$work/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    art=$(find "$work/artifacts/$t" -type f | head -n 1)
    if [ $rc -eq 0 ] && [ -z "$art" ]; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        say "$t ok runs=${runs:-?} exec_per_sec=${eps:-?} cov=${cov:-?} ft=${ft:-?}" \
            "corpus=${corp:-?} seconds=$secs"
        return 0
    fi
    case "$(basename "${art:-none}")" in
        crash-*) kind=crash ;;
        leak-*) kind=leak ;;
        timeout-*) kind=timeout ;;
        oom-*) kind=oom ;;
        slow-unit-*) kind=slow ;;
        *) kind="exit $rc" ;;
    esac
    {
        echo "---- fuzz_$t: last lines of $log"
        grep -v '^#[0-9]' "$log" | tail -n 60
        echo "---- replay: $work/bin/fuzz_$t ${art:-(no artifact)}"
    } >&2
    say "$t FAILED ($kind) reproducer=${art:-none} log=$log"
    return 1
}

failed=0
jobs_max=${CA_FUZZ_JOBS:-1}
if [ "$jobs_max" -le 1 ]; then
    for t in "${targets[@]}"; do run_one "$t" || failed=1; done
else
    declare -A jp=()
    for t in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 1; done
        run_one "$t" >"$work/log/$t.result" 2>"$work/log/$t.result.err" & jp[$t]=$!
    done
    for t in "${targets[@]}"; do
        wait "${jp[$t]}" || failed=1
        cat "$work/log/$t.result.err" >&2
        cat "$work/log/$t.result"
    done
fi

if [ $failed -ne 0 ]; then
    say "artifacts and logs kept in $work"
    exit 1
fi
if [ "${CA_FUZZ_KEEP:-}" = 1 ] || [ -n "${CA_FUZZ_WORK:-}" ]; then
    say "work directory kept: $work"
else
    rm -rf "$work"
fi
exit 0
