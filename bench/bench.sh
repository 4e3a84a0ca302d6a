#!/usr/bin/env bash
# Benchmark: pacing, hidden-quota convergence, rows failed, and (with
# BENCH_MEMORY=1) peak RSS for a 1 000 000-row input. Runs against the
# built-in simulator on loopback only; prints a Markdown table.
#
#   bash bench/bench.sh            # about 2 minutes
#   BENCH_MEMORY=1 bash bench/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/cognito-reset"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

users() { python3 -c "import sys; [print(f'user{i:07d}') for i in range(1, int(sys.argv[1]) + 1)]" "$1"; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }

echo "| scenario | rows | asked | result | target | met |"
echo "|---|---|---|---|---|---|"

# (a) Pacing against a fast endpoint (no quota): achieved ÷ asked.
for rate in 50 200 1000; do
  rows=$((rate * 20))
  users "$rows" > pace.txt
  rm -f pace.report.csv*
  "$BIN" pace.txt --simulate --sim-quota 0 --rate "$rate" --concurrency 64 --quiet --summary pace.json || true
  ratio=$(field pace.json "round(calls_per_second / $rate, 4)")
  met=$(python3 -c "print('yes' if abs($ratio - 1) <= 0.02 else 'NO')")
  echo "| pacing --rate $rate | $rows | $rate/s | achieved/asked = $ratio | within 2 % | $met |"
done

# (b) Hidden quota 50/s below --rate 200: time ÷ (rows ÷ quota), throttled share, failures.
rows=1500
users "$rows" > quota.txt
rm -f quota.report.csv*
"$BIN" quota.txt --simulate --sim-quota 50 --rate 200 --quiet --summary quota.json || true
time_ratio=$(field quota.json "round(elapsed_seconds / ($rows / 50), 4)")
throttled=$(field quota.json "round(100 * throttled_calls / attempts, 2)")
failed=$(field quota.json "outcomes.get('failed', 0)")
echo "| hidden quota 50/s, --rate 200: time ÷ ideal | $rows | 200/s | $time_ratio | ≤ 1.10 | $(python3 -c "print('yes' if $time_ratio <= 1.10 else 'NO')") |"
echo "| hidden quota: throttled calls | $rows | 200/s | $throttled % | < 5 % | $(python3 -c "print('yes' if $throttled < 5 else 'NO')") |"
echo "| hidden quota: rows failed | $rows | 200/s | $failed | 0 | $(python3 -c "print('yes' if $failed == 0 else 'NO')") |"

# (c) Memory: peak RSS of a 1 000 000-row run (simulator in its own process).
if [ "${BENCH_MEMORY:-0}" = 1 ]; then
  rows=1000000
  users "$rows" > big.txt
  "$BIN" simulator --listen 127.0.0.1:0 --sim-quota 0 > sim.out &
  SIM=$!
  for _ in $(seq 50); do grep -q listening sim.out && break; sleep 0.1; done
  url=$(sed -n 's/.*listening on //p' sim.out)
  rm -f big.report.csv*
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true \
    /usr/bin/time -f '%M' -o rss.txt \
    "$BIN" big.txt --endpoint-url "$url" --user-pool-id us-east-1_SimPool1 --rate unlimited \
      --concurrency 64 --yes --quiet --summary big.json || true
  kill "$SIM" 2>/dev/null || true
  rss_mib=$(python3 -c "print(round($(cat rss.txt) / 1024, 1))")
  rate=$(field big.json "round(calls_per_second)")
  echo "| memory: peak RSS, unlimited rate | $rows | unlimited | $rss_mib MiB ($rate calls/s) | < 64 MiB | $(python3 -c "print('yes' if $rss_mib < 64 else 'NO')") |"
fi
