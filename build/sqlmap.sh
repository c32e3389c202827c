#!/usr/bin/env bash
# sqlmap (Debian's package) against the three places where caller or user input meets SQL:
# the dashboard login (POST JSON email/password), a dashboard list with filters (GET /logs
# with a session cookie) and a caller endpoint with a valid key (GET /api/EP/jobs with
# filters, limit, cursor; they end up in the request log). Not part of CI: it takes minutes.
#   build/sqlmap.sh                 (as root or as a user with sudo)
#   CA_SQLMAP_LEVEL=5 CA_SQLMAP_RISK=3 build/sqlmap.sh     (more payloads, much longer)
# The stack is the test suite's (build/test.sh: PostgreSQL, the sandbox, httpd through
# Apache::Test); build/sqlmap-run.pl drives sqlmap and reports one test per target, passing
# when sqlmap finds nothing injectable. Results are written up in docs/security.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v sqlmap >/dev/null 2>&1; then
    say "installing Debian's sqlmap"
    apt_install sqlmap
fi
export CA_SQLMAP_LEVEL=${CA_SQLMAP_LEVEL:-3} CA_SQLMAP_RISK=${CA_SQLMAP_RISK:-2}
exec "$CA_ROOT/build/test.sh" build/sqlmap-run.pl
