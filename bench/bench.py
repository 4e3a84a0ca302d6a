"""The whole benchmark, run by bench.sh after the release build.

Everything runs on loopback against the tool's own simulator in a separate
process. Prints Markdown: one table per part, then the figures' raw lines.
Environment: BENCH_QUICK=1 uses smaller sizes (a smoke test of the script).
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/cognito-reset")
BARE = os.path.join(ROOT, "target/release/examples/bare_loop")
VENV = os.path.join(ROOT, "target/bench-venv")
POOL = "us-east-1_SimPool1"
QUICK = os.environ.get("BENCH_QUICK") == "1"
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="BENCH", AWS_SECRET_ACCESS_KEY="BENCH",
           AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
           AWS_SHARED_CREDENTIALS_FILE="/dev/null")
ENV.pop("AWS_PROFILE", None)


def sizes(full, quick):
    return quick if QUICK else full


def users_file(path, n):
    with open(path, "w") as f:
        for i in range(1, n + 1):
            f.write(f"user{i:07d}\n")
    return path


class Simulator:
    """`cognito-reset simulator` in its own process; stopped on exit."""

    def __init__(self, *knobs):
        if "--sim-static" not in knobs:
            # Pools on SES: Cognito's default sender stops at 50 emails a day.
            knobs = (*knobs, "--sim-email-sender", "DEVELOPER")
        self.proc = subprocess.Popen([BIN, "simulator", "--listen", "127.0.0.1:0", *knobs],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.url = line.rsplit(" ", 1)[-1].strip()

    def stats(self):
        with urllib.request.urlopen(self.url + "/_sim/stats") as r:
            return json.load(r)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def measured(argv, stdout=subprocess.DEVNULL, interrupt_after=None):
    """Runs argv (sends SIGINT after `interrupt_after` seconds if given);
    returns (wall seconds, CPU seconds, peak RSS MiB, stdout)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE if stdout is None else stdout,
                            stderr=subprocess.DEVNULL, env=ENV, text=True)
    if interrupt_after is not None:
        try:
            proc.wait(timeout=interrupt_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
    out = proc.stdout.read() if stdout is None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 130):
        print(f"<!-- {argv[0]} exited {proc.returncode} -->", file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def parse_line(out):
    return dict(kv.split("=", 1) for kv in out.split())


def tool(sim, users, *extra, summary="s.json", interrupt_after=None):
    """A run of the tool; returns (calls/s of the main phase, wall, CPU, RSS, summary)."""
    for suffix in ("", ".journal", ".lock"):
        try:
            os.remove("r.csv" + suffix)
        except FileNotFoundError:
            pass
    argv = [BIN, users, "--endpoint-url", sim.url, "--user-pool-id", POOL, "--yes", "--quiet",
            "--report", "r.csv", "--summary", summary, *extra]
    wall, cpu, rss, _ = measured(argv, interrupt_after=interrupt_after)
    with open(summary) as f:
        s = json.load(f)
    category = "UserRead" if "--dry-run" in extra else "UserAccountRecovery"
    return s["calls"][category]["achieved_per_second"], wall, cpu, rss, s


def bare(sim, users, concurrency=64):
    wall, cpu, rss, out = measured([BARE, users, sim.url, POOL, str(concurrency)], stdout=None)
    return float(parse_line(out)["calls_per_second"]), wall, cpu, rss


def row(*cells):
    print("| " + " | ".join(str(c) for c in cells) + " |")


def header(*names):
    row(*names)
    row(*["---"] * len(names))


def ceiling():
    n = sizes(60000, 5000)
    rounds = sizes(5, 2)
    users = users_file("ceiling.txt", n)
    got = {"bare": [], "tool": [], "dry": []}
    cpu = {"bare": [], "tool": [], "dry": []}

    def counted(op, run):
        """Runs `run`, checks that the endpoint saw one `op` per user."""
        before = sim.stats()["calls"].get(op, 0)
        result = run()
        seen = sim.stats()["calls"].get(op, 0) - before
        if seen < n:
            sys.exit(f"the endpoint saw {seen} {op} calls for {n} users")
        return result

    with Simulator("--sim-static") as sim:
        bare(sim, users)  # warm the page cache and the loopback path
        for _ in range(rounds):
            r, _, c, _ = counted("AdminResetUserPassword", lambda: bare(sim, users))
            got["bare"].append(r)
            cpu["bare"].append(c)
            r, _, c, _, _ = counted("AdminResetUserPassword", lambda: tool(
                sim, users, "--rate", "unlimited", "--concurrency", "64"))
            got["tool"].append(r)
            cpu["tool"].append(c)
            r, _, c, _, _ = counted("AdminGetUser", lambda: tool(
                sim, users, "--dry-run", "--check-rate", "unlimited", "--concurrency", "64"))
            got["dry"].append(r)
            cpu["dry"].append(c)
    med = {k: statistics.median(v) for k, v in got.items()}
    print(f"\n### Ceiling: unlimited rate, static endpoint, {n} users, concurrency 64, "
          f"{rounds} rounds (median; the endpoint counted every call)\n")
    header("contender", "calls/s (median)", "runs", "CPU s / 1000 calls",
           "÷ bare loop: medians", "round by round (median)", "best ÷ best", "target")
    for k, label in (("bare", "bare SDK loop (examples/bare_loop.rs)"),
                     ("tool", "cognito-reset, journal on"),
                     ("dry", "cognito-reset --dry-run (AdminGetUser checks)")):
        ratio = med[k] / med["bare"]
        paired = statistics.median(a / b for a, b in zip(got[k], got["bare"]))
        best = max(got[k]) / max(got["bare"])
        target = "≥ 0.95" if k == "tool" else ""
        met = ("met" if ratio >= 0.95 else "NOT MET") if k == "tool" else ""
        row(label, f"{med[k]:.0f}", " ".join(f"{x:.0f}" for x in got[k]),
            f"{1000 * statistics.median(cpu[k]) / n:.3f}", f"{ratio:.3f}", f"{paired:.3f}",
            f"{best:.3f}", f"{target} {met}".strip())
    return med


def alternatives(med):
    n_boto, n_cli = sizes(6000, 600), sizes(40, 5)
    py = os.path.join(VENV, "bin/python")
    aws = os.path.join(VENV, "bin/aws")
    boto_users = users_file("boto.txt", n_boto)
    cli_users = users_file("cli.txt", n_cli)
    with Simulator("--sim-static") as sim:
        boto = [measured([py, os.path.join(ROOT, "bench/boto3_reset.py"), boto_users, sim.url,
                          POOL, "32"], stdout=None) for _ in range(3)]
        env_path = os.path.dirname(aws) + ":" + ENV["PATH"]
        ENV["PATH"], old = env_path, ENV["PATH"]
        cli = measured(["bash", os.path.join(ROOT, "bench/cli_loop.sh"), cli_users, sim.url, POOL],
                       stdout=None)
        ENV["PATH"] = old
    boto_rate = statistics.median(float(parse_line(b[3])["calls_per_second"]) for b in boto)
    boto_cpu = statistics.median(b[1] for b in boto)
    cli_rate = float(parse_line(cli[3])["calls_per_second"])
    print(f"\n### What users run today (same static endpoint)\n")
    header("contender", "users", "calls/s", "CPU s / 1000 calls", "cognito-reset is ×")
    row("boto3, 32 threads (bench/boto3_reset.py), median of 3", n_boto, f"{boto_rate:.0f}",
        f"{1000 * boto_cpu / n_boto:.2f}", f"{med['tool'] / boto_rate:.1f}")
    row("AWS CLI in a shell loop (bench/cli_loop.sh)", n_cli, f"{cli_rate:.1f}",
        f"{1000 * cli[1] / n_cli:.0f}", f"{med['tool'] / cli_rate:.0f}")


def scale():
    """Peak RSS, CPU per 1000 rows and time to the first call. The 5 000 000-row
    run is stopped with SIGINT after a minute (BENCH_FULL=1: run to the end,
    about 9 minutes more): its input is read whole before the first call, and
    the rows after that are the same work as the 1 000 000-row run's."""
    full = os.environ.get("BENCH_FULL") == "1"
    print("\n### Scale: real runs at unlimited rate, concurrency 64, static endpoint\n")
    header("rows in the input", "rows done", "peak RSS MiB", "CPU s / 1000 rows done",
           "calls/s", "start → first call", "wall s", "target")
    for n in sizes([10_000, 1_000_000, 5_000_000], [10_000, 100_000]):
        users = users_file(f"scale{n}.txt", n)
        stop = None if full or n < 5_000_000 else 60
        with Simulator("--sim-static") as sim:
            started = time.time()
            rate, wall, cpu, rss, s = tool(sim, users, "--rate", "unlimited",
                                           "--concurrency", "64", interrupt_after=stop)
            first = sim.stats().get("first_reset_unix_ms")
        done = s["counts"]["outcomes"].get("reset", 0)
        first_s = f"{first / 1000 - started:.3f} s" if first else "?"
        target = ("≤ 64 MiB " + ("met" if rss <= 64 else "NOT MET")) if n >= 1_000_000 else ""
        note = f" (SIGINT after {stop} s)" if stop and done < n else ""
        row(f"{n:,}", f"{done:,}{note}", f"{rss:.1f}", f"{1000 * cpu / max(1, done):.3f}",
            f"{rate:.0f}", first_s, f"{wall:.1f}", target)
        os.remove(users)


def categories():
    n = sizes(1000, 200)
    users = users_file("cat.txt", n)
    print("\n### Each category at its own rate (simulator without quotas)\n")
    header("run", "users", "rates asked", "elapsed s", "ideal s", "elapsed ÷ ideal",
           "one shared budget would take")
    with Simulator("--sim-no-quotas") as sim:
        _, wall, _, _, s = tool(sim, users, "--global-sign-out", "--rate", "100",
                                "--sign-out-rate", "80")
        ideal = n / 80
        row("reset + sign-out", n, "reset 100/s, sign-out 80/s", f"{s['elapsed_seconds']:.1f}",
            f"{ideal:.1f}", f"{s['elapsed_seconds'] / ideal:.3f}", f"{2 * n / 100:.1f} s")
    with Simulator("--sim-no-quotas") as sim:
        _, wall, _, _, s = tool(sim, users, "--dry-run", "--check-rate", "400")
        ideal = n / 400
        row("dry run", n, "check 400/s", f"{s['elapsed_seconds']:.1f}", f"{ideal:.1f}",
            f"{s['elapsed_seconds'] / ideal:.3f}", "")


def pacing():
    print("\n### Pacing and a hidden quota\n")
    header("scenario", "rows", "asked", "result", "target", "met")
    secs = sizes(10, 3)
    with Simulator("--sim-no-quotas") as sim:
        for rate in (50, 200, 1000):
            users = users_file("pace.txt", rate * secs)
            got, *_ = tool(sim, users, "--rate", str(rate), "--concurrency", "64")
            ratio = got / rate
            row(f"pacing --rate {rate}", rate * secs, f"{rate}/s",
                f"achieved ÷ asked = {ratio:.4f}", "within 2 %",
                "yes" if abs(ratio - 1) <= 0.02 else "NO")
    n = sizes(1500, 300)
    users = users_file("quota.txt", n)
    with Simulator("--sim-quota", "50") as sim:
        _, _, _, _, s = tool(sim, users, "--rate", "200")
    ratio = s["elapsed_seconds"] / (n / 50)
    calls = s["calls"]["UserAccountRecovery"]
    throttled = 100 * calls["throttled"] / max(1, calls["calls"])
    failed = s["counts"]["outcomes"].get("failed", 0)
    row("hidden quota 50/s, --rate 200: time ÷ (rows ÷ quota)", n, "200/s", f"{ratio:.4f}",
        "≤ 1.10", "yes" if ratio <= 1.10 else "NO")
    row("hidden quota: throttled calls", n, "200/s", f"{throttled:.2f} %", "< 5 %",
        "yes" if throttled < 5 else "NO")
    row("hidden quota: rows failed", n, "200/s", failed, "0", "yes" if failed == 0 else "NO")


def main():
    parts = sys.argv[1:] or ["ceiling", "alternatives", "scale", "categories", "pacing"]
    started = time.monotonic()
    print(f"Machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        med = None
        for part in parts:
            if part == "alternatives" and med is None:
                med = {"tool": float("nan")}
            result = globals()[part]() if part != "alternatives" else alternatives(med)
            if part == "ceiling":
                med = result
            sys.stdout.flush()
    print(f"\nBenchmark took {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
