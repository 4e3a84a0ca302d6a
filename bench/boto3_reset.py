"""What many operators write instead of the tool: boto3 with a thread pool.

    python boto3_reset.py USERS_FILE ENDPOINT_URL POOL_ID [THREADS]

One client shared by the threads (boto3 clients are thread-safe), its own
retries off, no report, no journal. Prints one line like the bare loop.
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def main():
    users_file, endpoint, pool = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    with open(users_file) as f:
        users = [line.rstrip("\n") for line in f]
    client = boto3.client(
        "cognito-idp",
        region_name=pool.split("_")[0],
        endpoint_url=endpoint,
        aws_access_key_id="BENCH",
        aws_secret_access_key="BENCH",
        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                      max_pool_connections=threads),
    )

    def reset(user):
        try:
            client.admin_reset_user_password(UserPoolId=pool, Username=user)
            return 1
        except Exception:
            return 0

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        ok = sum(ex.map(reset, users, chunksize=64))
    elapsed = time.monotonic() - start
    print(f"calls={len(users)} ok={ok} elapsed={elapsed:.3f} "
          f"calls_per_second={len(users) / elapsed:.1f}")


if __name__ == "__main__":
    main()
