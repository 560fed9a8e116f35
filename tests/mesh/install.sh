#!/usr/bin/env bash
# Installs GraphQL Mesh with its OData handler for tests/mesh (npm ci from package-lock.json).
# Idempotent: does nothing when node_modules was installed from the current lock file.
# Without npm it skips (the Mesh tests then skip too), except with CI=true, where it fails.
set -euo pipefail
cd "$(dirname "$0")"

ci=false
case "${CI:-}" in 1|true|TRUE|True|yes) ci=true ;; esac

if ! command -v npm >/dev/null 2>&1; then
  if $ci; then
    echo "tests/mesh/install.sh: npm is not installed (CI=true: the GraphQL Mesh tests must run)" >&2
    exit 1
  fi
  echo "tests/mesh/install.sh: npm not found; skipping (GraphQL Mesh tests will be skipped)"
  exit 0
fi

stamp=node_modules/.gateway-install-stamp
want="$(sha256sum package-lock.json package.json .npmrc | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/mesh ]; then
  echo "tests/mesh: node_modules is current"
  exit 0
fi

# .npmrc sets legacy-peer-deps: without it npm also installs react-native (a peer of Mesh's
# cross-helpers, never used on Node), doubling the install.
echo "tests/mesh: npm ci (GraphQL Mesh + OData handler) ..."
npm ci --no-audit --no-fund --loglevel=error
node_modules/.bin/mesh --version >/dev/null
echo "$want" > "$stamp"
