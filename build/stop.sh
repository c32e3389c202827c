#!/usr/bin/env bash
# Stops what build/start.sh started (as root: the demo of the unprivileged user).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" = 0 ] && id "$CA_TEST_USER" >/dev/null 2>&1; then
    home=$(getent passwd "$CA_TEST_USER" | cut -d: -f6)
    tree=${CA_WORK_TREE:-$home/demo-tree}
    [ -x "$tree/build/stop.sh" ] && exec runuser -u "$CA_TEST_USER" -- bash "$tree/build/stop.sh"
fi
demo=$CA_ROOT/demo
if [ -f "$demo/httpd.pid" ]; then
    httpd=$(apxs -q SBINDIR)/$(apxs -q TARGET)
    "$httpd" -d "$demo" -f "$demo/httpd.conf" -k stop 2>/dev/null || kill "$(cat "$demo/httpd.pid")"
fi
stop_pidfile "$demo/sandbox.pid"
echo "stopped"
