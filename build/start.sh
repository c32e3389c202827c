#!/usr/bin/env bash
# Command 1: install what is missing, build, and start httpd with the module, the embedded
# SQLite database and the provider sandbox on 127.0.0.1; prints the URLs and a demo login.
#   build/start.sh        (as root or as a user with sudo; build/stop.sh stops it)
# Each start is a fresh demo: the sandbox keeps its data in memory, so the demo database is
# made anew too. CA_DEMO_PORT (default 8080) and CA_SANDBOX_PORT (default 8090) pick the ports.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "${CA_ALREADY_DEPS:-}" = 1 ] || install_deps
reexec_unprivileged start.sh demo-tree "$@"

build_tree
cd "$CA_ROOT"
demo=$CA_ROOT/demo
"$CA_ROOT/build/stop.sh" >/dev/null 2>&1 || true
rm -rf "$demo"; mkdir -p "$demo"

pick_port() { # wanted port if free, else any free one
    if perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(Listen => 1,
        LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], ReuseAddr => 1) ? 0 : 1)' "$1"; then
        echo "$1"
    else
        free_port
    fi
}
port=$(pick_port "${CA_DEMO_PORT:-8080}")
sport=$(pick_port "${CA_SANDBOX_PORT:-8090}")
sandbox="http://127.0.0.1:$sport"

say "provider sandbox on $sandbox"
sandbox_start "$sport" "$demo/sandbox.log" "$demo/sandbox.pid"

say "SQLite database $demo/clientapi.db"
export CLIENTAPI_DBD_DRIVER=sqlite3 CLIENTAPI_DBD_PARAMS=$demo/clientapi.db
export CLIENTAPI_KEY_FILE=$demo/secret.keys
./clientapi migrate --sql-dir sql >/dev/null
./clientapi keygen --kid demo1 >"$demo/secret.keys" 2>/dev/null
echo "sandbox-secret" >"$demo/sandbox-client.secret"
chmod 600 "$demo/secret.keys" "$demo/sandbox-client.secret"

# demo account, a connection to the sandbox and one to its Client Commander, one endpoint each
email=demo@example.com
password=clientapi-demo
printf '%s\n' "$password" | ./clientapi useradd --email "$email" --role admin >/dev/null
token_json=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"user":"demo"}' "$sandbox/_sandbox/tokens")
json_field() { perl -MJSON::PP -e 'print JSON::PP::decode_json($ARGV[0])->{$ARGV[1]}' "$1" "$2"; }
umask 077
json_field "$token_json" access_token >"$demo/at"
json_field "$token_json" refresh_token >"$demo/rt"
conn=$(./clientapi connection add --user "$email" --provider sandbox --account-id acc_demo \
    --label "Demo Field Services" --access-token-file "$demo/at" --refresh-token-file "$demo/rt" \
    --expires-in "$(json_field "$token_json" expires_in)")
echo ccmd_live_demo_0123456789abcdef >"$demo/ccmd"
cc=$(./clientapi connection add --user "$email" --provider clientcommander \
    --account-id acc_demo --label "Demo (Client Commander)" --api-key-file "$demo/ccmd")
rm -f "$demo/at" "$demo/rt" "$demo/ccmd"
ep_out=$(./clientapi endpoint add --connection "$conn" --scope "company:co_acme:Acme Plumbing Ltd" \
    --mode read-only --name "Acme (read-only)" 2>/dev/null)
cc_out=$(./clientapi endpoint add --connection "$cc" --scope "client:acc_demo/per_demo_03:Chloe" \
    --mode read-only --name "Chloe (Client Commander)" 2>/dev/null)

sed -e "s|@DEMO@|$demo|g" -e "s|@ROOT@|$CA_ROOT|g" -e "s|@PORT@|$port|g" \
    -e "s|@SANDBOX@|$sandbox|g" -e "s|@MODULES@|$(apxs -q LIBEXECDIR)|g" \
    conf/demo.conf.in >"$demo/httpd.conf"
httpd=$(apxs -q SBINDIR)/$(apxs -q TARGET)
"$httpd" -t -d "$demo" -f "$demo/httpd.conf" >/dev/null 2>&1 \
    || { "$httpd" -t -d "$demo" -f "$demo/httpd.conf"; die "the demo configuration is refused"; }
"$httpd" -d "$demo" -f "$demo/httpd.conf" -k start
for _ in $(seq 1 50); do [ -f "$demo/httpd.pid" ] && break; sleep 0.1; done

ep=$(sed -n 's/^endpoint: //p' <<<"$ep_out"); key=$(sed -n 's/^key: //p' <<<"$ep_out")
cep=$(sed -n 's/^endpoint: //p' <<<"$cc_out"); ckey=$(sed -n 's/^key: //p' <<<"$cc_out")
cat <<MSG

mod_clientapi demo is running (stop it with build/stop.sh).

  Dashboard:        http://127.0.0.1:$port/login.html
  Demo login:       $email / $password
  Provider sandbox: $sandbox  (its OAuth consent page: users demo, other)

  A read-only endpoint scoped to the sandbox company Acme Plumbing (key shown once):
    curl -H 'Authorization: Bearer $key' http://127.0.0.1:$port/api/$ep/jobs
  One scoped to a single Client Commander person:
    curl -H 'Authorization: Bearer $ckey' http://127.0.0.1:$port/api/$cep/deals

  Logs: $demo/error_log, $demo/access_log
MSG
