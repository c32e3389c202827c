# Shared shell helpers for build/start.sh, build/test.sh and bench/. Sourced, not run.
# shellcheck shell=bash

CA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CA_TEST_USER=${CA_TEST_USER:-clientapi}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the project needs to build, test and run. One list, one place.
CA_PACKAGES=(
    gcc make autoconf automake libtool pkg-config
    apache2 apache2-dev libapr1-dev libaprutil1-dev
    libaprutil1-dbd-pgsql libaprutil1-dbd-sqlite3 sqlite3
    libcurl4-openssl-dev libcjson-dev libssl-dev libcmocka-dev
    libapache2-mod-perl2 libwww-perl libmojolicious-perl
    libdbi-perl libdbd-pg-perl libdbd-sqlite3-perl
    postgresql-15 postgresql-client-15 curl procps
    # the key cache shared by two nodes (t/api/keycache-memcache.t)
    memcached
    # fuzzing (t/fuzz/fuzz.t): clang and its libFuzzer + sanitizer runtimes
    clang-14 libclang-rt-14-dev
    # the valgrind pass (CA_VALGRIND=1 build/test.sh)
    valgrind
)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The packages among "$@" that dpkg does not have installed (one word each).
missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || echo "$p"
    done
}

# apt-get update, then install "$@" as root (no recommends; waits for another dpkg to finish).
apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

# Install what is missing (and only that): a second run costs one dpkg query.
install_deps() {
    local missing
    read -r -a missing <<<"$(missing_packages "${CA_PACKAGES[@]}" | tr '\n' ' ')"
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    # Debian's postgresql postinst would create and start a system cluster; we run our own.
    as_root mkdir -p /etc/postgresql-common
    if ! [ -f /etc/postgresql-common/createcluster.conf ]; then
        echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    apt_install "${missing[@]}"
}

# The browser test (t/browser/): Debian's chromium, plus Debian's nodejs and npm when the
# machine has no node and npm yet (a node installed otherwise is left alone).
install_browser_deps() {
    local want=(chromium) missing
    command -v node >/dev/null 2>&1 || want+=(nodejs)
    command -v npm >/dev/null 2>&1 || want+=(npm)
    read -r -a missing <<<"$(missing_packages "${want[@]}" | tr '\n' ' ')"
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages for the browser test: ${missing[*]}"
    apt_install "${missing[@]}"
}

# The browser test's npm module (playwright-core): the registry's own tarball, kept in
# t/browser/vendor/ and pinned by t/browser/package-lock.json (its sha512 is the registry's), so
# the install needs no network and runs on Debian 12's own node 18 and npm 9. Installed in the
# unprivileged copy, again only when the lock file changed. A failure is reported, and
# t/browser/00-journey.t then fails with the reason.
browser_modules() {
    local dir=$CA_ROOT/t/browser
    [ -f "$dir/package-lock.json" ] || return 0
    cmp -s "$dir/package-lock.json" "$dir/node_modules/.ca-installed-lock" && return 0
    say "npm ci --offline in t/browser"
    rm -f "$dir/.npm-failed"
    if (cd "$dir" && npm ci --offline --no-audit --no-fund --update-notifier=false \
            --loglevel=error >/dev/null 2>"$dir/.npm-log"); then
        cp "$dir/package-lock.json" "$dir/node_modules/.ca-installed-lock"
    else
        # the test says what went wrong (t/browser/00-journey.t reads this file)
        grep -m1 'ERR!.*reason\|ERR! code' "$dir/.npm-log" >"$dir/.npm-failed" \
            || echo "npm ci failed" >"$dir/.npm-failed"
        cat "$dir/.npm-log" >&2
        say "warning: npm ci in t/browser failed: the browser test will fail"
    fi
    rm -f "$dir/.npm-log"
}

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
    die "PostgreSQL server binaries not found (apt-get install postgresql-15)"
}

# A TCP port nobody listens on right now.
free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1) or die; print $s->sockport'
}

# Build from a clean tree or an already configured one. $1: extra configure flags.
build_tree() {
    cd "$CA_ROOT" || die "cannot enter $CA_ROOT"
    [ -x configure ] || { say "autoreconf"; autoreconf -fi >/dev/null 2>&1 || autoreconf -fi; }
    if [ ! -f Makefile ] || [ "${CA_RECONFIGURE:-}" = 1 ]; then
        say "configure $*"
        ./configure -q "$@" >/dev/null
        # other compiler flags: nothing built with the old ones may stay
        make -s clean >/dev/null 2>&1 || true
    fi
    say "make"
    make -s -j"$(nproc)" >/dev/null
    # the unit test programs too (built, not run: prove runs them through t/core/*.t)
    make -s -j"$(nproc)" check TESTS= >/dev/null
}

# Private PostgreSQL cluster owned by the current user: pg_start DIR PORT [SERVER-OPTIONS]
# (SERVER-OPTIONS: extra postgres options, e.g. "-c shared_preload_libraries=pg_stat_statements")
pg_start() {
    local dir=$1 port=$2 extra=${3:-} bin
    bin=$(pg_bindir)
    mkdir -p "$dir/sock"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        "$bin/initdb" -D "$dir/data" -U clientapi -A trust -E UTF8 --no-locale >/dev/null
    fi
    "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1${extra:+ $extra}" start >/dev/null
    "$bin/createdb" -h "$dir/sock" -p "$port" -U clientapi clientapi 2>/dev/null || true
}

pg_stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    "$(pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# Start the provider sandbox in the background: sandbox_start PORT LOGFILE PIDFILE
sandbox_start() {
    local port=$1 log=$2 pidfile=$3 i
    perl "$CA_ROOT/sandbox/clientapi-sandbox" daemon -l "http://127.0.0.1:$port" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for i in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/_sandbox/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$log" >&2
    die "the provider sandbox did not start on port $port"
}

stop_pidfile() {
    local f=$1
    [ -f "$f" ] || return 0
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
}

# Re-run this script as the unprivileged user when started as root (Apache::Test refuses
# root, and PostgreSQL's initdb too). The tree is copied to a place that user owns.
# reexec_unprivileged SCRIPT TREE ARGS...: the copy lives in ~$CA_TEST_USER/TREE.
reexec_unprivileged() {
    local script=$1 tree=$2; shift 2
    [ "$(id -u)" = 0 ] || return 0
    id "$CA_TEST_USER" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash \
        "$CA_TEST_USER"
    local home dest
    home=$(getent passwd "$CA_TEST_USER" | cut -d: -f6)
    dest=${CA_WORK_TREE:-$home/$tree}
    say "running as user $CA_TEST_USER in $dest (started as root)"
    mkdir -p "$dest"
    # copy the tree, keeping a previous build where sources did not change
    tar -C "$CA_ROOT" --exclude=./.git -cf - . | tar -C "$dest" -xpf - --no-same-owner
    chown -R "$CA_TEST_USER": "$dest"
    exec runuser -u "$CA_TEST_USER" -- env -i HOME="$home" PATH="$PATH" LANG=C.UTF-8 \
        CI="${CI:-}" CA_SANITIZERS="${CA_SANITIZERS:-}" CA_ALREADY_DEPS=1 TERM="${TERM:-dumb}" \
        CA_VALGRIND="${CA_VALGRIND:-}" CA_FUZZ_SECONDS="${CA_FUZZ_SECONDS:-}" \
        CA_SQLMAP_LEVEL="${CA_SQLMAP_LEVEL:-}" CA_SQLMAP_RISK="${CA_SQLMAP_RISK:-}" \
        bash "$dest/build/$script" "$@"
}
