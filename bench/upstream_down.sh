#!/bin/bash
# How long /readyz and cold availability reads take while the ERP is down (walkthrough, issue 4 §4).
# usage: bench/upstream_down.sh [down|stall] [label]   (from a worktree with .venv; ports 18710-18712)
#   down:  the ERP simulator process is killed (connections refused)
#   stall: the ERP simulator holds every API request 120 s (POST /_sim/faults kind timeout)
# Prints curl's status and time_total per request, with the load average before and after.
# Seven cold reads of two items each: the availability breaker opens after 5 failures.
set -u
MODE=${1:-down}; LABEL=${2:-run}; WT=$(pwd); D=${TMPDIR:-/tmp}/upstream_down-$LABEL-$MODE
export PYTHONPATH=$WT  # measure this checkout's code even with another checkout's venv
rm -rf "$D"; mkdir -p "$D"
.venv/bin/gateway simulate erp --port 18711 >"$D/erp.log" 2>&1 & ERP=$!
.venv/bin/gateway simulate crm --port 18712 >"$D/crm.log" 2>&1 & CRM=$!
sleep 3
GATEWAY_DATABASE_URL="sqlite+aiosqlite:///$D/gw.db" .venv/bin/gateway run --demo --port 18710 \
  --erp-url http://127.0.0.1:18711 --crm-url http://127.0.0.1:18712 >"$D/gw.log" 2>&1 & GW=$!
for _ in $(seq 60); do curl -s -o /dev/null http://127.0.0.1:18710/healthz && break; sleep 1; done
sleep 5
KEY=$(grep -o 'gw_[A-Za-z0-9_-]*' "$D/gw.log" | head -1)
# generate(seed=42, items=40): the demo's first 14 item numbers
ITEMS=(1000-M SV-1004 1008-B 1012-L 1016-L 1020-L 1024-S 1028-S 1032-W 1036-L 1040-W 1044-M SV-1048 1052-S)
t() { curl -s -o /dev/null -w '%{http_code} %{time_total}s' "$@"; }
echo "readyz up: $(t http://127.0.0.1:18710/readyz)"
if [ "$MODE" = stall ]; then
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"rate":1,"kinds":["timeout"],"timeoutSeconds":120}' http://127.0.0.1:18711/_sim/faults
else
  kill $ERP; wait $ERP 2>/dev/null
fi
echo "load: $(uptime)"
for i in 1 2 3; do sleep 6; echo "readyz down $i: $(t http://127.0.0.1:18710/readyz)"; done
for i in $(seq 0 6); do
  echo "availability cold $((i + 1)): $(t -H "Authorization: Bearer $KEY" \
    "http://127.0.0.1:18710/api/v1/availability?items=${ITEMS[$i]},${ITEMS[$((i + 7))]}")"
done
echo "load: $(uptime)"
kill $GW $CRM 2>/dev/null; [ "$MODE" = stall ] && kill $ERP 2>/dev/null; wait 2>/dev/null
