"""KServe's InferenceService on `mls up`: from `apply` to `Ready`, for a cached sklearn model.

Usage: .venv/bin/python bench/kserve_ready.py [--runs 5] [--no-record]
Starts a real `mls up` (warm standby on, its default) on a scratch data dir, puts the iris
LogisticRegression in a volume (already on disk: the "cached" model, no download), then
`--runs` times (after one untimed warm-up): applies an InferenceService with the `sklearn`
predictor through the API (one request, as `kubectl apply` sends), polls until its `Ready`
condition is True, times that, checks one V2 prediction through the gateway, deletes it and
waits until it is gone. The median is the number (target <= 2 s; KServe on Knative: tens of
seconds). A full run appends, dated, to bench/RESULTS.md.
"""

import argparse
import datetime
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from mlsbench import iris
from mlservice.cli.background import UpProcess
from mlservice.client import Client
from mlservice.errors import NotFound
from mlservice.home import Home

BENCH_DIR = pathlib.Path(__file__).resolve().parent
NAMESPACE = "kserve-ready"
NAME = "sklearn-iris"
TARGET_SECONDS = 2.0
POLL_SECONDS = 0.01
WITHIN_SECONDS = 60.0
# Between runs: the warm standby the last run took is replaced (about 0.2 s) before the next.
SETTLE_SECONDS = 2.0
MANIFEST: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": NAME, "namespace": NAMESPACE},
    "spec": {"predictor": {"sklearn": {"storageUri": f"pvc://{NAMESPACE}/iris"}}},
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed apply -> Ready (median reported)")
    p.add_argument("--no-record", action="store_true", help="print only; RESULTS.md untouched")
    p.add_argument("--results", type=pathlib.Path, default=BENCH_DIR / "RESULTS.md")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    work = BENCH_DIR / ".work" / "kserve_ready"
    home = Home(work / f"home-{os.getpid()}")
    case = iris.train(home.volume(NAMESPACE) / "iris")
    load_before = os.getloadavg()
    env = {**os.environ, "MLS_HOME": str(home.root)}
    up_args = ["--api-port", "0", "--gateway-port", "0"]
    with UpProcess(home.root, args=up_args, env=env) as up, up.client() as client:
        gateway = httpx.Client(base_url=str(up.endpoints["gateway"]), timeout=30)
        one_run(client, gateway, case)  # warm-up: page cache, first-import bytecode
        times = [one_run(client, gateway, case) for _ in range(args.runs)]
    shutil.rmtree(home.root, ignore_errors=True)
    lines = report(times, load_before=load_before, argv=argv)
    print("\n".join(lines))
    if not args.no_record:
        with args.results.open("a") as out:
            out.write("\n" + "\n".join(lines) + "\n")
    return 0


def one_run(client: Client, gateway: httpx.Client, case: iris.IrisCase) -> float:
    """Seconds from apply to Ready; the service answers once, then is deleted and gone."""
    time.sleep(SETTLE_SECONDS)
    started = time.perf_counter()
    client.apply(MANIFEST)
    while not is_ready(client.get("isvc", NAME, namespace=NAMESPACE)):
        if time.perf_counter() - started > WITHIN_SECONDS:
            raise SystemExit(f"{NAME} not Ready within {WITHIN_SECONDS} s")
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    answer = gateway.post(
        f"/v2/models/{NAME}/infer",
        content=case.v2_body(),
        headers={"Host": f"{NAME}.{NAMESPACE}.localhost", "Content-Type": "application/json"},
    )
    answer.raise_for_status()
    assert iris.prediction_of(answer.content) == case.expected, answer.text
    client.delete("isvc", NAME, namespace=NAMESPACE)
    deadline = time.monotonic() + WITHIN_SECONDS
    while time.monotonic() < deadline:
        try:
            client.get("isvc", NAME, namespace=NAMESPACE)
        except NotFound:
            return elapsed
        time.sleep(0.05)
    raise SystemExit(f"{NAME} still there {WITHIN_SECONDS} s after delete")


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def report(
    times: list[float], *, load_before: tuple[float, float, float], argv: list[str]
) -> list[str]:
    median = statistics.median(times)
    verdict = "met" if median <= TARGET_SECONDS else "not met"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"## {datetime.date.today().isoformat()} kserve_ready",
        "",
        f"- Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Linux {platform.release()}, load average {_load(load_before)} before, "
        f"{_load(os.getloadavg())} after.",
        f"- Command: `{' '.join(['python bench/kserve_ready.py', *argv])}`",
        f"- At commit {commit}; `mls up` with the warm standby on; an InferenceService with the "
        "`sklearn` predictor (built-in ClusterServingRuntime kserve-sklearnserver), the iris "
        "LogisticRegression already in a volume; applied through the API, status polled every "
        f"{POLL_SECONDS * 1000:.0f} ms; one V2 prediction checked after each run, then deleted.",
        f"- apply -> Ready: median **{median:.3f} s** of {len(times)} "
        f"({', '.join(f'{t:.3f}' for t in times)}); target {TARGET_SECONDS} s: {verdict} "
        "(KServe on Knative: tens of seconds).",
    ]


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
