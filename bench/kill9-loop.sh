#!/usr/bin/env bash
# Crash drill: kill -9 a real run at random moments, resume after each, then
# finish; the simulator (a separate process, so it survives the kills) then
# says how many users were reset, and how many more than once.
#
#   bash bench/kill9-loop.sh [USERS] [KILLS]     # default 5000 users, 10 kills
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-5000}
KILLS=${2:-10}
cargo build --release --quiet
BIN="$PWD/target/release/cognito-reset"
WORK=$(mktemp -d)
trap 'kill "${SIM:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"
python3 -c "import sys; [print(f'user{i:06d}') for i in range(1, $USERS + 1)]" > users.txt
"$BIN" simulator --listen 127.0.0.1:0 --sim-quota 0 --sim-latency-ms 5 > sim.out &
SIM=$!
for _ in $(seq 50); do grep -q listening sim.out && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on //p' sim.out)
export AWS_ACCESS_KEY_ID=drill AWS_SECRET_ACCESS_KEY=drill AWS_EC2_METADATA_DISABLED=true
ARGS=(users.txt --endpoint-url "$URL" --user-pool-id us-east-1_SimPool1 --rate 500 --concurrency 32 --yes --quiet)
for k in $(seq "$KILLS"); do
  extra=(); [ "$k" -gt 1 ] && extra=(--resume)
  "$BIN" "${ARGS[@]}" "${extra[@]}" & PID=$!
  delay=$(python3 -c "import random; print(round(random.uniform(0.2, 0.8), 3))")
  sleep "$delay"; kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true
  echo "kill $k after ${delay}s: $(($(wc -l < users.report.csv) - 1)) report lines so far"
done
"$BIN" "${ARGS[@]}" --resume && echo "final resume: exit 0"
python3 - "$URL" "$USERS" <<'PY'
import json, sys, urllib.request
stats = json.load(urllib.request.urlopen(sys.argv[1] + "/_sim/stats"))
users = int(sys.argv[2])
print(f"users {users}: reset {stats['users_reset']}, reset twice {stats['users_reset_twice']}, "
      f"missed {users - stats['users_reset']}")
sys.exit(0 if stats["users_reset"] == users and stats["users_reset_twice"] == 0 else 1)
PY
