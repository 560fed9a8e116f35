#!/usr/bin/env bash
# Installs the SAP CAP server used by tests/contract (npm ci from package-lock.json).
# Idempotent: does nothing when node_modules was installed from the current lock file.
# Without npm it skips (the CAP contract tests then skip too), except with CI=true, where it fails.
set -euo pipefail
cd "$(dirname "$0")"

ci=false
case "${CI:-}" in 1|true|TRUE|True|yes) ci=true ;; esac

if ! command -v npm >/dev/null 2>&1; then
  if $ci; then
    echo "tests/contract/cap/install.sh: npm is not installed (CI=true: the CAP contract tests must run)" >&2
    exit 1
  fi
  echo "tests/contract/cap/install.sh: npm not found; skipping (CAP contract tests will be skipped)"
  exit 0
fi

stamp=node_modules/.gateway-install-stamp
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/cds-serve ] \
   && [ -x node_modules/.bin/node ]; then
  echo "tests/contract/cap: node_modules is current"
  exit 0
fi

echo "tests/contract/cap: npm ci (SAP CAP for the contract tests) ..."
npm ci --no-audit --no-fund --loglevel=error
node_modules/.bin/node --version >/dev/null
echo "$want" > "$stamp"
