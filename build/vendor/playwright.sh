#!/usr/bin/env bash
# Replace the playwright-core tarball the browser test installs offline (t/browser/vendor/):
#   build/vendor/playwright.sh 1.61.1
# fetches the registry's tarball with `npm pack`, checks its sha512 against the registry's,
# points t/browser/package.json at it and rewrites the lock file. Keep a version whose
# engines.node admits Debian 12's Node.js 18 (1.61 is the last), then run
# `build/test.sh t/browser` and commit package.json, package-lock.json and vendor/ together.
set -euo pipefail
version=${1:?usage: build/vendor/playwright.sh VERSION}
dir=$(cd "$(dirname "$0")/../../t/browser" && pwd)
cd "$dir"
engines=$(npm view "playwright-core@$version" engines.node)
echo "playwright-core $version needs node $engines"
want=$(npm view "playwright-core@$version" dist.integrity)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "playwright-core@$version" >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$tmp/playwright-core-$version.tgz" | base64 -w0)"
[ "$got" = "$want" ] || { echo "integrity mismatch: $got, registry says $want" >&2; exit 1; }
rm -f vendor/playwright-core-*.tgz
install -D -m 644 "$tmp/playwright-core-$version.tgz" "vendor/playwright-core-$version.tgz"
node -e '
    const fs = require("fs"), p = JSON.parse(fs.readFileSync("package.json"));
    p.dependencies["playwright-core"] = "file:vendor/playwright-core-" + process.argv[1] + ".tgz";
    fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");' "$version"
rm -rf node_modules package-lock.json
npm install --offline --no-audit --no-fund
rm -rf node_modules
echo "t/browser now installs playwright-core $version offline"
