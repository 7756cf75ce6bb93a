"""Cold start through `mls up`: from the first request at zero replicas to its answer.

Usage: .venv/bin/python bench/coldstart.py [--runs 5] [--breakdown 3] [--no-record]
Starts a real `mls up` (gateway, engine, autoscaler) on a scratch data dir, serves the iris
LogisticRegression from a volume (already on disk: no download) with `minReplicas: 0` and
`initial-scale: 0`, and times a V2 infer sent while the release is at zero, `--runs` times
(after one untimed warm-up); the median is the number. `--breakdown` more runs are
instrumented from outside (a /proc watcher, a readiness poller and a routing-table poller)
to split the time into phases; the scaled-up event's timestamp gives the decision time. Last,
one `mls serve` start with `-X importtime` says which imports dominate. A full run appends,
dated, to bench/RESULTS.md.
"""

import argparse
import collections
import datetime
import itertools
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import yaml

from mlsbench import iris
from mlservice.cli.background import UpProcess
from mlservice.home import Home

BENCH_DIR = pathlib.Path(__file__).resolve().parent
NAMESPACE = "coldstart"
NAME = "iris"
HOST = f"{NAME}.{NAMESPACE}.localhost"
TARGET_SECONDS = 1.5
# Short windows so each run's wait for zero takes seconds; none of these touch the cold path.
ENV = {"MLS_AUTOSCALER_TICK": "0.5s", "MLS_AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD": "0s"}
MANIFEST = f"""
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {{name: {NAME}, namespace: {NAMESPACE}}}
spec:
  default: v1
  releases:
    - name: v1
      predictor:
        minReplicas: 0
        model: {{modelFormat: {{name: sklearn}}, modelUri: "pvc://{NAMESPACE}/iris/"}}
        template:
          metadata:
            annotations:
              autoscaling.knative.dev/window: "6s"
              autoscaling.knative.dev/initial-scale: "0"
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed cold starts (median reported)")
    p.add_argument("--breakdown", type=int, default=3, help="instrumented runs for phases")
    p.add_argument(
        "--cold", action="store_true", help="mls up --no-warm-standby: every start is cold"
    )
    p.add_argument("--no-record", action="store_true", help="print only; RESULTS.md untouched")
    p.add_argument("--results", type=pathlib.Path, default=BENCH_DIR / "RESULTS.md")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work = BENCH_DIR / ".work" / "coldstart"
    shutil.rmtree(work, ignore_errors=True)
    home = Home(work / "home")
    case = iris.train(home.volume(NAMESPACE) / "iris")
    load_before = os.getloadavg()
    env = {**os.environ, **ENV, "MLS_HOME": str(home.root)}
    up_args = ["--api-port", "0", "--gateway-port", "0"]
    up_args += ["--no-warm-standby"] if args.cold else []
    with UpProcess(home.root, args=up_args, env=env) as up, httpx.Client(timeout=60) as http:
        with up.client() as client:
            client.apply(yaml.safe_load(MANIFEST))
        wait_at_zero(up)
        cold_request(up, http, case)  # warm-up: page cache, first-import bytecode
        totals = []
        for _ in range(args.runs):
            wait_at_zero(up)
            totals.append(cold_request(up, http, case))
        phases: list[dict[str, float]] = []
        for _ in range(args.breakdown):
            wait_at_zero(up)
            phases.append(instrumented_run(up, lambda: cold_request(up, http, case)))
    imports = import_profile(case.model_dir, work)
    lines = report(totals, phases, imports, load_before=load_before, argv=argv, cold=args.cold)
    print("\n".join(lines))
    if not args.no_record:
        with args.results.open("a") as out:
            out.write("\n" + "\n".join(lines) + "\n")
    return 0


def cold_request(up: UpProcess, http: httpx.Client, case: iris.IrisCase) -> float:
    """Seconds from sending one V2 infer at zero replicas to its (checked) answer."""
    url = f"{up.endpoints['gateway']}/v2/models/{NAME}/infer"
    headers = {"host": HOST, "content-type": "application/json"}
    started = time.perf_counter()
    answer = http.post(url, content=case.v2_body(), headers=headers)
    seconds = time.perf_counter() - started
    if answer.status_code != 200 or iris.prediction_of(answer.content) != case.expected:
        raise RuntimeError(f"cold request answered {answer.status_code}: {answer.text[:300]}")
    return seconds


def wait_at_zero(up: UpProcess, *, within: float = 120.0) -> None:
    """Until the release runs no replica and no `mls serve` of this data dir is alive."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with up.client() as client:
            status = client.get("mlservice", NAME, namespace=NAMESPACE).get("status") or {}
        releases = status.get("releases") or [{}]
        if status.get("ready") and releases[0].get("totalReplicas") == 0 and not servers(up):
            time.sleep(1.0)  # let the CPU settle after the scale-down
            return
        time.sleep(0.2)
    raise TimeoutError(f"the release did not reach zero replicas within {within:g}s")


def servers(up: UpProcess) -> list[int]:
    """Pids of live replica processes of the benchmark's service (from the engine's pidfiles;
    a replica born from a warm standby does not say `serve` in its command line)."""
    found = []
    for path in _pidfiles(up):
        try:
            pid = int(json.loads(path.read_text())["pid"])
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, KeyError):
            continue
        if state != "Z":
            found.append(pid)
    return found


def report(
    totals: list[float],
    phases: list[dict[str, float]],
    imports: dict[str, float],
    *,
    load_before: tuple[float, float, float],
    argv: list[str],
    cold: bool,
) -> list[str]:
    median = statistics.median(totals)
    verdict = "met" if median < TARGET_SECONDS else "not met"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        f"## {datetime.date.today().isoformat()} coldstart"
        + (" (no warm standby)" if cold else ""),
        "",
        f"- Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Linux {platform.release()}, load average {_load(load_before)} before, "
        f"{_load(os.getloadavg())} after.",
        f"- Command: `{' '.join(['python bench/coldstart.py', *argv])}`",
        f"- At commit {commit}; iris LogisticRegression on a volume, `minReplicas: 0`, "
        "sklearn runtime (`mls serve ... --grpc-port`), V2 REST infer through the gateway; "
        + ("every replica starts cold." if cold else "replicas start in the warm standby."),
        f"- Cold start, first request at zero replicas to its answer: median "
        f"**{median:.3f} s** of {len(totals)} "
        f"({', '.join(f'{t:.3f}' for t in totals)}); target {TARGET_SECONDS} s: {verdict}.",
        "",
        "| phase | median s | runs |",
        "|---|---:|---|",
    ]
    for key, label in PHASES:
        values = [p[key] for p in phases if key in p]
        if values:
            shown = ", ".join(f"{v:.3f}" for v in values)
            lines.append(f"| {label} | {statistics.median(values):.3f} | {shown} |")
    if imports:
        lines += ["", "| import in `mls serve` (cumulative, -X importtime) | s |", "|---|---:|"]
        for name, seconds in sorted(imports.items(), key=lambda kv: -kv[1])[:8]:
            lines.append(f"| {name} | {seconds:.3f} |")
    return lines


# -- the breakdown: timestamps taken from outside, while one cold request is in flight ----------

PHASES = (
    ("activation", "request sent -> gateway's activation signal"),
    ("decision", "activation -> autoscaler's scale-up (event time)"),
    ("spawn", "decision -> replica launched (controller, engine: pidfile written)"),
    ("imports", "launched -> `mls serve` logs its address (cold: Python and imports)"),
    ("ready", "logged -> /v2/health/ready answers 200 (bind, uvicorn, model load)"),
    ("routed", "ready -> in the gateway's routes (probe, status, snapshot push)"),
    ("forward", "routed -> answer (gateway forwards the held request, inference)"),
    ("total", "total"),
)


def instrumented_run(up: UpProcess, send: Callable[[], float]) -> dict[str, float]:
    """One cold request with watchers on the gateway's signals and routes and on /proc."""
    marks: dict[str, float] = {}
    stop = threading.Event()
    watchers = [
        threading.Thread(target=_watch_signals, args=(up, marks, stop), daemon=True),
        threading.Thread(target=_watch_routes, args=(up, marks, stop), daemon=True),
        threading.Thread(target=_watch_replica, args=(up, marks, stop), daemon=True),
    ]
    for watcher in watchers:
        watcher.start()
    time.sleep(0.3)  # the signal stream is connected
    marks["sent"] = time.time()
    marks["answered"] = marks["sent"] + send()
    time.sleep(0.2)
    stop.set()
    for watcher in watchers:
        watcher.join(timeout=5)
    marks.update(_decision_and_log_times(up, since=marks["sent"]))
    order = ["sent", "activation", "decision", "spawn", "imports", "ready", "routed", "answered"]
    phases = {}
    for before, after in itertools.pairwise(order):
        if before in marks and after in marks:
            phases["forward" if after == "answered" else after] = marks[after] - marks[before]
    phases["total"] = marks["answered"] - marks["sent"]
    return phases


def _admin(up: UpProcess) -> httpx.Client | None:
    url = up.endpoints.get("gateway_admin")
    if not url:
        return None
    token = up.home.token.read_text().strip()
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=5)


def _watch_signals(up: UpProcess, marks: dict[str, float], stop: threading.Event) -> None:
    admin = _admin(up)
    if admin is None:
        return
    with admin, admin.stream("GET", "/admin/signals", timeout=None) as stream:
        for line in stream.iter_lines():
            if '"activate"' in line and "activation" not in marks:
                marks["activation"] = float(re.search(r'"time":\s*([0-9.]+)', line)[1])
            if stop.is_set():
                return


def _watch_routes(up: UpProcess, marks: dict[str, float], stop: threading.Event) -> None:
    admin = _admin(up)
    if admin is None:
        return
    with admin:
        while not stop.is_set() and "routed" not in marks:
            revisions = admin.get("/admin/routes").json().get("revisions", [])
            if any(r["namespace"] == NAMESPACE and r["endpoints"] for r in revisions):
                marks["routed"] = time.time()
            time.sleep(0.005)


def _watch_replica(up: UpProcess, marks: dict[str, float], stop: threading.Event) -> None:
    """The replica's pidfile (launched), then its /v2/health/ready answering 200 (ready)."""
    pidfile = None
    while not stop.is_set() and pidfile is None:
        pidfile = next(iter(_pidfiles(up, since=marks.get("sent", 0.0))), None)
        time.sleep(0.002)
    if pidfile is None:
        return
    marks["spawn"] = pidfile.stat().st_mtime
    log = pidfile.with_suffix(".log")
    with httpx.Client(timeout=1) as http:
        while not stop.is_set():
            found = re.search(r"mls serve: model .* on http://[^:]+:(\d+)", _text(log))
            try:
                url = f"http://127.0.0.1:{found[1]}/v2/health/ready" if found else None
                if url and http.get(url).status_code == 200:
                    marks["ready"] = time.time()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.005)


def _pidfiles(up: UpProcess, *, since: float = 0.0) -> list[pathlib.Path]:
    found = []
    for path in up.home.replicas.glob(f"{NAMESPACE}/*/*/user-container.pid"):
        try:
            if path.stat().st_mtime >= since:
                found.append(path)
        except OSError:
            continue  # removed meanwhile
    return found


def _text(path: pathlib.Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _decision_and_log_times(up: UpProcess, *, since: float) -> dict[str, float]:
    found: dict[str, float] = {}
    with up.client() as client:
        events = client.list("event", namespace=NAMESPACE)
    for event in events:
        stamp = _utc(event.get("eventTime") or "")
        if event["reason"] == "ScaledUp" and stamp >= since - 0.5:
            found["decision"] = min(found.get("decision", stamp), stamp)
    logs = sorted(
        up.home.replicas.glob(f"{NAMESPACE}/*/*/user-container.log"),
        key=lambda p: p.stat().st_mtime,
    )
    lines = logs[-1].read_text(errors="replace").splitlines() if logs else []
    for line in reversed(lines):
        if "mls serve: model" in line:
            local = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            found["imports"] = local.timestamp()
            break
    return found


def _utc(text: str) -> float:
    if not text:
        return 0.0
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=datetime.UTC).timestamp()


def import_profile(model_dir: pathlib.Path, work: pathlib.Path) -> dict[str, float]:
    """Cumulative seconds per top-level package imported by one `mls serve` start (to ready)."""
    mls = pathlib.Path(sys.executable).with_name("mls")
    command = [str(mls), "serve", str(model_dir), "--name", NAME, "--format", "sklearn"]
    command += ["--port", "0"]
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    log = work / "importtime.log"
    with log.open("w") as err:
        proc = subprocess.Popen(command, stderr=err, env=env)
    try:
        _wait_serving(log, within=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    totals: collections.Counter[str] = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split("|")
        measured = line.startswith("import time:") and len(parts) == 3
        # Top level only (one space before the name): its cumulative covers its children.
        if measured and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            totals[parts[2].strip().split(".")[0]] += int(parts[1]) / 1e6
    return dict(totals)


def _wait_serving(log: pathlib.Path, *, within: float) -> None:
    """Until the server that writes `log` answers /v2/health/ready (weights loaded)."""
    deadline = time.monotonic() + within
    port = None
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            found = re.search(r"mls serve: model .* on http://[^:]+:(\d+)", log.read_text())
            port = port or (found[1] if found else None)
            try:
                if port and http.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"mls serve never became ready; see {log}")


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
