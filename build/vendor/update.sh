#!/usr/bin/env bash
# Refresh the third-party files the pages ship (htdocs/vendor/) from npm:
#   1. change the version in build/vendor/package.json (exact versions only)
#   2. build/vendor/update.sh        (npm install here, then copies the files and licences)
#   3. look at the diff, load the usage tab, commit package.json, package-lock.json and
#      htdocs/vendor/ together.
# Nothing is fetched at run time: the pages load only these copies (strict CSP, 'self').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/../../htdocs/vendor
cd "$here"
npm install --no-audit --no-fund
version=$(node -p 'require("./node_modules/uplot/package.json").version')
install -m 644 node_modules/uplot/dist/uPlot.iife.min.js "$dest/uplot.iife.min.js"
install -m 644 node_modules/uplot/dist/uPlot.min.css "$dest/uplot.min.css"
install -m 644 node_modules/uplot/LICENSE "$dest/uplot.LICENSE"
echo "uPlot $version (npm package uplot), MIT licence: uplot.LICENSE" >"$dest/VERSIONS"
rm -rf node_modules
echo "htdocs/vendor/ now has uPlot $version"
