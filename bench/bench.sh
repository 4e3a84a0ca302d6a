#!/usr/bin/env bash
# The benchmark, in one command (10-12 minutes on 2 cores once built):
#
#   bash bench/bench.sh                 # every part
#   bash bench/bench.sh ceiling resume  # some parts
#   BENCH_QUICK=1 bash bench/bench.sh   # small sizes, to try the script
#   BENCH_FULL=1 bash bench/bench.sh scale   # the 5 000 000-row run to the end
#
# Parts: ceiling (the tool against a bare SDK loop, on two static endpoints:
# the simulator's benchmark mode and nginx answering `{}`; nginx is installed
# from the OS packages if absent and runs under its own configuration in a
# temporary directory), alternatives (boto3 and the AWS CLI, installed into
# target/bench-venv), scale (10 000, 1 000 000 and 5 000 000 rows: memory,
# CPU, time to the first call), resume (a 1 000 000-row run killed with
# kill -9 at about 60 %, then resumed: time to its first call, memory,
# rate), categories (each category at its own rate), pacing (asked rates,
# a hidden quota). Everything runs on 127.0.0.1; prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin cognito-reset --example bare_loop
if [ ! -x target/bench-venv/bin/aws ]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install --quiet boto3 awscli
fi
exec python3 bench/bench.py "$@"
