#!/usr/bin/env bash
# Installs what the browser client and its tests need, only when missing, quietly:
#   client   npm packages of assets/ (served to the page from assets/node_modules)
#   test     + Debian's chromium, redis-server and postgresql (the account tests start
#              their own PostgreSQL server), and the browser tests' npm packages
# Usage: scripts/deps.sh client|test
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-client}

npm_ci() { # folder
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "installing npm packages in $1"
    npm ci --prefix "$1" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed for the browser client's packages; install Node.js (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
npm_ci assets

if [ "$what" = test ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  npm_ci tests/browser
fi
