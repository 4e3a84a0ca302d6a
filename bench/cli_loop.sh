#!/usr/bin/env bash
# What the AWS CLI documentation leads to: one `aws cognito-idp
# admin-reset-user-password` per user, in a shell loop.
#
#   bash cli_loop.sh USERS_FILE ENDPOINT_URL POOL_ID
#
# Prints one line like the bare loop.
set -u
users=$1 endpoint=$2 pool=$3
export AWS_ACCESS_KEY_ID=BENCH AWS_SECRET_ACCESS_KEY=BENCH AWS_MAX_ATTEMPTS=1
export AWS_DEFAULT_REGION=${pool%%_*} AWS_PAGER=""
start=$(date +%s.%N)
calls=0 ok=0
while IFS= read -r user; do
  calls=$((calls + 1))
  if aws cognito-idp admin-reset-user-password --endpoint-url "$endpoint" \
      --user-pool-id "$pool" --username "$user" >/dev/null 2>&1; then
    ok=$((ok + 1))
  fi
done < "$users"
end=$(date +%s.%N)
python3 -c "import sys; c,o,s,e=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]); print(f'calls={c} ok={o} elapsed={e-s:.3f} calls_per_second={c/(e-s):.1f}')" "$calls" "$ok" "$start" "$end"
