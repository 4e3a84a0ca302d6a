"""The whole benchmark, run by bench.sh after the release build.

Everything runs on loopback: the tool's own simulator in a separate process
and, for the ceiling, nginx answering `{}` (a static endpoint that is not
this project's code). Prints Markdown: one table per part.
Environment: BENCH_QUICK=1 uses smaller sizes (a smoke test of the script);
BENCH_FULL=1 runs the 5 000 000-row input to the end.
"""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
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

    name = "simulator --sim-static"

    def stats(self):
        with urllib.request.urlopen(self.url + "/_sim/stats") as r:
            return json.load(r)

    def count(self, op):
        return self.stats()["calls"].get(op, 0)

    def cpu(self):
        return proc_cpu([self.proc.pid])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def proc_cpu(pids):
    """CPU seconds (user + system) the processes have used so far."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


NGINX_WORKERS = 1
NGINX_CONF = """
worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{ }}
    server {{
        listen 127.0.0.1:{port};
        location = /_status {{ stub_status; }}
        location / {{
            default_type application/x-amz-json-1.1;
            add_header x-amzn-requestid $request_id always;
            return 200 '{{}}';
        }}
    }}
}}
"""


def nginx_binary():
    """nginx, installed from the OS packages if it is absent."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    print("\nnginx is not installed: installing it from the OS packages "
          "(`apt-get install -y nginx`).")
    sys.stdout.flush()
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if subprocess.run(["apt-get", "install", "-y", "nginx"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "nginx"], check=True, **quiet)
    return shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx answering `{}` to every request, under its own configuration in
    a temporary directory (not the system service); stopped on exit. One
    worker: the client gets the other core, and one worker is far from busy
    at the rates measured here. Keep-alive on, access log off, 127.0.0.1."""

    name = f"nginx `{{}}`, {NGINX_WORKERS} worker"

    def __init__(self):
        binary = nginx_binary()
        self.dir = tempfile.mkdtemp(prefix="bench-nginx-")
        os.chmod(self.dir, 0o755)  # for the workers' temporary files
        port = free_port()
        user = ""
        if os.geteuid() == 0:  # the workers drop root
            nobody = pwd.getpwnam("nobody")
            user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(workers=NGINX_WORKERS, dir=self.dir, port=port, user=user))
        self.proc = subprocess.Popen([binary, "-p", self.dir, "-e", self.dir + "/error.log",
                                      "-c", conf], stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                self.requests()
                break
            except OSError:
                time.sleep(0.05)
        self.pids = [self.proc.pid, *children(self.proc.pid)]

    def requests(self):
        """Requests nginx has answered, from its stub_status page."""
        with urllib.request.urlopen(self.url + "/_status") as r:
            return int(r.read().decode().splitlines()[2].split()[2])

    def count(self, op):
        # nginx cannot tell the operations apart: every request counts.
        return self.requests()

    def cpu(self):
        return proc_cpu(self.pids)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGQUIT)  # graceful stop of master and workers
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


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


CONTENDERS = (("bare", "bare SDK loop (examples/bare_loop.rs)"),
              ("tool", "cognito-reset, journal on"),
              ("dry", "cognito-reset --dry-run (AdminGetUser checks)"))


def rate_cpu(result):
    """(calls/s, CPU s) of what `bare` or `tool` returned."""
    return result[0], result[2]


def ceiling_rounds(endpoint, users, n, rounds, with_dry):
    """Alternating rounds bare / tool (/ dry run) against one endpoint; per
    contender, the calls/s, CPU s of the client and of the endpoint per run."""
    got = {k: {"rate": [], "cpu": [], "endpoint": []} for k, _ in CONTENDERS}

    def counted(key, op, run):
        """Runs `run`, checks that the endpoint saw one `op` per user."""
        before, cpu_before = endpoint.count(op), endpoint.cpu()
        rate, cpu = run()
        seen = endpoint.count(op) - before
        if seen < n:
            sys.exit(f"{endpoint.name} saw {seen} {op} calls for {n} users")
        got[key]["rate"].append(rate)
        got[key]["cpu"].append(cpu)
        got[key]["endpoint"].append(endpoint.cpu() - cpu_before)

    concurrency = ("--concurrency", "64")
    bare(endpoint, users)  # warm the page cache and the loopback path
    for _ in range(rounds):
        counted("bare", "AdminResetUserPassword", lambda: rate_cpu(bare(endpoint, users)))
        counted("tool", "AdminResetUserPassword", lambda: rate_cpu(tool(
            endpoint, users, "--rate", "unlimited", *concurrency)))
        if with_dry:
            counted("dry", "AdminGetUser", lambda: rate_cpu(tool(
                endpoint, users, "--dry-run", "--check-rate", "unlimited", *concurrency)))
    return {k: v for k, v in got.items() if v["rate"]}


def ceiling_rows(endpoint_name, got, n):
    """One table row per contender; returns the tool's two ratios."""
    med = {k: statistics.median(v["rate"]) for k, v in got.items()}
    cpu = {k: statistics.median(v["cpu"]) / n for k, v in got.items()}
    for k, label in CONTENDERS:
        if k not in got:
            continue
        paired = statistics.median(a / b for a, b in zip(got[k]["rate"], got["bare"]["rate"]))
        best = max(got[k]["rate"]) / max(got["bare"]["rate"])
        row(endpoint_name, label, f"{med[k]:.0f}", " ".join(f"{x:.0f}" for x in got[k]["rate"]),
            f"{1000 * cpu[k]:.3f}", f"{1000 * statistics.median(got[k]['endpoint']) / n:.3f}",
            f"{med[k] / med['bare']:.3f}", f"{paired:.3f}", f"{best:.3f}",
            f"{cpu[k] / cpu['bare']:.3f}")
    return med["tool"] / med["bare"], cpu["tool"] / cpu["bare"]


def ceiling():
    n = sizes(60000, 5000)
    rounds = sizes(5, 2)
    users = users_file("ceiling.txt", n)
    with Simulator("--sim-static") as sim:
        on_sim = ceiling_rounds(sim, users, n, rounds, with_dry=True)
    with Nginx() as ngx:
        on_nginx = ceiling_rounds(ngx, users, n, rounds, with_dry=False)
    print(f"\n### Ceiling: unlimited rate, static endpoints, {n} users, concurrency 64, "
          f"{rounds} rounds each (median; the endpoint counted every call)\n")
    header("endpoint", "contender", "calls/s (median)", "runs", "CPU s / 1000 calls",
           "endpoint's CPU s / 1000 calls", "calls/s ÷ bare loop: medians",
           "round by round (median)", "best ÷ best", "CPU per call ÷ bare loop")
    ratios = {Simulator.name: ceiling_rows(Simulator.name, on_sim, n),
              Nginx.name: ceiling_rows(Nginx.name, on_nginx, n)}
    print("\n### Ceiling goals: cognito-reset (journal on) ÷ the bare SDK loop\n")
    header("endpoint", "calls/s ÷ bare (medians)", "goal", "met", "CPU per call ÷ bare",
           "goal", "met")
    for name, (rate, cpu) in ratios.items():
        row(name, f"{rate:.3f}", "≥ 0.95", "yes" if rate >= 0.95 else "NO",
            f"{cpu:.3f}", "≤ 1.10", "yes" if cpu <= 1.10 else "NO")
    return {k: statistics.median(v["rate"]) for k, v in on_sim.items()}


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


def report_rows(path, at_least, proc):
    """Watches the report grow until it holds `at_least` rows (or the run
    ends); returns the rows it holds then."""
    rows, seen = 0, 0
    with open(path, "rb") as f:
        while proc.poll() is None:
            chunk = f.read()
            rows += chunk.count(b"\n")
            if rows - 1 >= at_least:  # the first line is the header
                return rows - 1
            time.sleep(0.02 if chunk else 0.05)
    return rows - 1


def killed_run(argv, n, fraction):
    """Starts a real run, `kill -9`s it once its report holds `fraction` of
    the `n` rows; returns (rows in the report after the kill, seconds run)."""
    for suffix in ("", ".journal", ".lock"):
        if os.path.exists("r.csv" + suffix):
            os.remove("r.csv" + suffix)
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    while not os.path.exists("r.csv") and proc.poll() is None:
        time.sleep(0.05)
    report_rows("r.csv", int(n * fraction), proc)
    proc.kill()
    proc.wait()
    ran = time.monotonic() - started
    with open("r.csv", "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1, ran


def resume():
    """A real run at unlimited rate killed with `kill -9` at about 60 % of a
    1 000 000-row input (the report's rows watched), then `--resume --yes`
    against a fresh static simulator, so that its first call is the resume's:
    the time from the resume's start to its first call of any kind (and to
    its first reset), its peak RSS (its rusage) and its calls per second
    after the first call."""
    n = sizes(1_000_000, 100_000)
    users = users_file(f"resume{n}.txt", n)
    args = [users, "--user-pool-id", POOL, "--yes", "--quiet", "--report", "r.csv",
            "--summary", "s.json", "--rate", "unlimited", "--concurrency", "64"]
    with Simulator("--sim-static") as sim:
        in_report, ran = killed_run([BIN, *args, "--endpoint-url", sim.url], n, 0.6)
    with Simulator("--sim-static") as sim:
        started = time.time()
        wall, cpu, rss, _ = measured([BIN, *args, "--endpoint-url", sim.url, "--resume"])
        ended = time.time()
        stats = sim.stats()
    with open("s.json") as f:
        summary = json.load(f)
    outcomes = summary["counts"]["outcomes"]
    resets_per_s = summary["calls"]["UserAccountRecovery"]["achieved_per_second"]
    first_call = stats["first_call_unix_ms"] / 1000
    first_reset = (stats.get("first_reset_unix_ms") or 0) / 1000
    calls = sum(stats["calls"].values())
    print(f"\n### Resume at scale: {n:,} rows, real run at unlimited rate killed with "
          "kill -9 at about 60 %, then --resume --yes (static simulator, concurrency 64)\n")
    header("rows in the report at the kill", "resume: outcomes", "resume: calls (checks, resets)",
           "start → first call", "start → first reset", "peak RSS MiB",
           "calls/s after the first call", "resets/s (main phase)", "CPU s", "wall s", "goals")
    goals = [f"first call ≤ 2 s {'met' if first_call - started <= 2 else 'NOT MET'}",
             f"RSS ≤ 64 MiB {'met' if rss <= 64 else 'NOT MET'}"]
    row(f"{in_report:,} (after {ran:.0f} s)",
        ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())),
        f"{calls:,} ({stats['calls'].get('AdminGetUser', 0):,}, "
        f"{stats['calls'].get('AdminResetUserPassword', 0):,})",
        f"{first_call - started:.3f} s",
        f"{first_reset - started:.3f} s" if first_reset else "none",
        f"{rss:.1f}", f"{calls / max(1e-9, ended - first_call):.0f}", f"{resets_per_s:.0f}",
        f"{cpu:.1f}",
        f"{wall:.1f}", "; ".join(goals))
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


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parts = sys.argv[1:] or ["ceiling", "alternatives", "scale", "resume", "categories",
                             "pacing"]
    started = time.monotonic()
    print(f"Machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"(1, 5, 15 min) at the start: {load()}")
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
    print(f"\nBenchmark took {time.monotonic() - started:.0f} s; load average (1, 5, 15 min) "
          f"at the end: {load()} (other work on the machine shares its CPUs).")


if __name__ == "__main__":
    main()
