"""`mls replay NAME --release R`: logged requests sent again to one release, through the gateway.

The requests come from the local request log (`$MLS_HOME/logs/requests/*.jsonl`, the gateway
writes it: docs/logging.md) or a `--from` file of the same lines. Each goes to the release's
own host (`{name}-{release}.{ns}.{domain}`), at most `--rate` per second. The report gives
each release's errors and latency, and agreement: with `--compare-with R2` between the two
releases' answers, else with the answers the log holds. Answers agree when their predictions
are equal, numbers within `--tolerance` (relative, and absolute near zero).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import math
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer

from mlservice.errors import InvalidInput

DEFAULT_RATE = 50.0
CONCURRENCY = 8  # requests in flight at once, whatever the rate
TIMEOUT = 60.0
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Logged:
    """One logged request, and the answer logged for it (None when the log has none)."""

    id: str
    path: str
    body: bytes
    content_type: str
    answer: Any = None


@dataclass(frozen=True)
class Outcome:
    release: str
    id: str
    status: int  # 0: no answer (the connection failed or timed out)
    seconds: float
    answer: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class ReleaseReport:
    release: str
    sent: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None


@dataclass(frozen=True)
class Report:
    releases: tuple[ReleaseReport, ...]
    against: str  # the other release's name, or "logged answers"
    compared: int  # pairs where both sides answered
    agreed: int

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


# -- reading the log ----------------------------------------------------------------------------


def parse_since(text: str) -> float:
    """`90s`, `10m`, `2h`, `1d` -> seconds."""
    unit = text[-1:]
    if unit not in _DURATION_UNITS or not text[:-1].isdigit():
        raise InvalidInput(f"--since {text!r} is not a duration such as 30s, 10m, 2h or 1d.")
    return float(text[:-1]) * _DURATION_UNITS[unit]


def logged_requests(
    events: Iterable[Mapping[str, Any]],
    *,
    service: str,
    namespace: str,
    since: datetime.datetime | None = None,
) -> list[Logged]:
    """The service's predictor requests in log order (either flavor: ours or KServe's), each
    with its logged answer when the response event is there too."""
    requests: dict[str, Logged] = {}
    answers: dict[str, Any] = {}
    for doc in events:
        named = doc.get("mlservicename", doc.get("inferenceservicename"))
        if named != service or doc.get("namespace") != namespace:
            continue
        if doc.get("component") not in ("predict", "predictor"):
            continue  # a transformer's payload (an image, say) is not the predictor's input
        if since is not None and _time(doc) < since:
            continue
        kind, event_id = str(doc.get("type", "")), str(doc.get("id", ""))
        if kind.endswith(".request"):
            requests[event_id] = Logged(
                id=event_id,
                path=str(doc.get("inferenceurl") or ""),
                body=_payload(doc),
                content_type=str(doc.get("datacontenttype") or "application/json"),
            )
        elif kind.endswith(".response") and "data" in doc:
            answers[event_id] = doc["data"]
    return [
        Logged(r.id, r.path, r.body, r.content_type, answers.get(r.id))
        for r in requests.values()
        if r.path
    ]


def read_log(source: Path) -> Iterable[dict[str, Any]]:
    """`source`: a .jsonl file, or the folder of day files."""
    from mlservice.gateway.reqlog import localfile

    if source.is_dir():
        return localfile.read_events(source)
    try:
        lines = source.read_bytes().splitlines()
    except OSError as err:
        raise InvalidInput(f"--from {source}: {(err.strerror or str(err)).lower()}.") from None
    docs = (_loads(line) for line in lines if line.strip())
    return [d for d in docs if isinstance(d, dict)]


def _loads(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _payload(doc: Mapping[str, Any]) -> bytes:
    if "data_base64" in doc:
        return base64.b64decode(str(doc["data_base64"]))
    return orjson.dumps(doc.get("data"))


def _time(doc: Mapping[str, Any]) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(str(doc.get("time")))
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


# -- comparing ----------------------------------------------------------------------------------


def prediction_of(answer: Any) -> Any:
    """What to compare: V1's `predictions`, V2's output tensors' `data`, else the answer
    (ids, model names and versions differ between releases and are not the prediction)."""
    if isinstance(answer, Mapping):
        if "predictions" in answer:
            return answer["predictions"]
        outputs = answer.get("outputs")
        if isinstance(outputs, list):
            data = [o.get("data") if isinstance(o, Mapping) else o for o in outputs]
            return data[0] if len(data) == 1 else data  # one tensor compares with V1's list
    return answer


def agree(a: Any, b: Any, *, tolerance: float = 0.0) -> bool:
    """Equal structure and values, numbers within `tolerance` (booleans compared exactly)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(agree(a[k], b[k], tolerance=tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            agree(x, y, tolerance=tolerance) for x, y in zip(a, b, strict=True)
        )
    return bool(a == b)


def report(
    requests: Sequence[Logged],
    outcomes: Sequence[Outcome],
    *,
    release: str,
    compare_with: str | None,
    tolerance: float,
) -> Report:
    by_release: dict[str, dict[str, Outcome]] = {}
    for outcome in outcomes:
        by_release.setdefault(outcome.release, {})[outcome.id] = outcome
    mine = by_release.get(release, {})
    compared = agreed = 0
    for request in requests:
        answer = mine.get(request.id)
        if answer is None or not answer.ok:
            continue
        if compare_with is not None:
            other = by_release.get(compare_with, {}).get(request.id)
            if other is None or not other.ok:
                continue
            theirs = other.answer
        elif request.answer is not None:
            theirs = request.answer
        else:
            continue
        compared += 1
        agreed += agree(prediction_of(answer.answer), prediction_of(theirs), tolerance=tolerance)
    names = [release, *([compare_with] if compare_with else [])]
    return Report(
        releases=tuple(_release_report(n, list(by_release.get(n, {}).values())) for n in names),
        against=compare_with or "logged answers",
        compared=compared,
        agreed=agreed,
    )


def _release_report(release: str, outcomes: list[Outcome]) -> ReleaseReport:
    answered = sorted(o.seconds * 1000 for o in outcomes if o.ok)
    return ReleaseReport(
        release=release,
        sent=len(outcomes),
        errors=sum(not o.ok for o in outcomes),
        p50_ms=_rank(answered, 0.50),
        p99_ms=_rank(answered, 0.99),
        mean_ms=round(statistics.fmean(answered), 3) if answered else None,
    )


def _rank(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank quantile."""
    if not ordered:
        return None
    return round(ordered[max(math.ceil(q * len(ordered)) - 1, 0)], 3)


# -- sending ------------------------------------------------------------------------------------


async def replay(
    requests: Sequence[Logged],
    *,
    client: httpx.AsyncClient,
    gateway: str,
    hosts: Mapping[str, str],
    rate: float,
    concurrency: int = CONCURRENCY,
) -> list[Outcome]:
    """Each request to each release's host (`hosts`: release -> Host header), the n-th no
    sooner than n / `rate` seconds after the start, at most `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def one(n: int, request: Logged, release: str, host: str) -> Outcome:
        async with gate:
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            began = time.monotonic()
            try:
                response = await client.post(
                    gateway + request.path,
                    content=request.body,
                    headers={"Host": host, "Content-Type": request.content_type},
                )
            except httpx.HTTPError:
                return Outcome(release, request.id, 0, time.monotonic() - began)
            seconds = time.monotonic() - began
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
            return Outcome(release, request.id, response.status_code, seconds, answer)

    jobs = [
        one(n, request, release, host)
        for n, (request, (release, host)) in enumerate(
            (r, h) for r in requests for h in hosts.items()
        )
    ]
    return list(await asyncio.gather(*jobs))


# -- printing -----------------------------------------------------------------------------------


def as_json(found: Report) -> dict[str, Any]:
    return {**asdict(found), "agreement": found.agreement}


def as_table(found: Report) -> str:
    rows = [("RELEASE", "SENT", "ERRORS", "P50", "P99", "MEAN")]
    for r in found.releases:
        rows.append(
            (r.release, str(r.sent), str(r.errors), _ms(r.p50_ms), _ms(r.p99_ms), _ms(r.mean_ms))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    share = "-" if found.agreement is None else f"{found.agreement:.1%}"
    lines.append("")
    lines.append(f"AGREEMENT with {found.against}: {found.agreed} of {found.compared} ({share})")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command("replay")
    def replay_command(
        name: Annotated[str, typer.Argument(help="The MLService (or InferenceService).")],
        release: Annotated[str, typer.Option(help="Send the requests to this release.")],
        from_: Annotated[
            Path | None,
            typer.Option("--from", help="A .jsonl request log (default: the local one)."),
        ] = None,
        since: Annotated[
            str | None, typer.Option(help="Only requests logged this recently: 30s, 10m, 2h, 1d.")
        ] = None,
        rate: Annotated[
            float, typer.Option(min=0.1, max=10000, help="Requests per second, at most.")
        ] = DEFAULT_RATE,
        compare_with: Annotated[
            str | None, typer.Option(help="Send each to this release too and compare answers.")
        ] = None,
        tolerance: Annotated[
            float, typer.Option(min=0.0, help="Numbers agree within this (relative).")
        ] = 1e-6,
        namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
        output: Annotated[str, typer.Option("--output", "-o", help="table or json.")] = "table",
    ) -> None:
        """Send logged requests to a release again; report agreement, latency and errors."""
        from mlservice.cli.objects import guarded

        def plan() -> tuple[list[Logged], str, dict[str, str]]:
            from mlservice.client import Endpoints
            from mlservice.home import Home
            from mlservice.naming import Hosts

            if output not in ("table", "json"):
                raise InvalidInput(f"-o {output!r} is not table or json.")
            ns = namespace or "default"
            cutoff = None
            if since is not None:
                ago = datetime.timedelta(seconds=parse_since(since))
                cutoff = datetime.datetime.now(datetime.UTC) - ago
            source = from_ if from_ is not None else Home.from_env().request_logs
            found = logged_requests(read_log(source), service=name, namespace=ns, since=cutoff)
            if not found:
                raise InvalidInput(f"No logged requests of {ns}/{name} in {source}.")
            endpoints = Endpoints.resolve()
            if endpoints.gateway is None:
                raise InvalidInput("No gateway is running; start `mls up`.")
            names = Hosts(endpoints.domain)
            wanted = [release, *([compare_with] if compare_with else [])]
            return found, endpoints.gateway, {r: names.release(name, ns, r) for r in wanted}

        requests, gateway, hosts = guarded(plan)

        async def send() -> list[Outcome]:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                return await replay(
                    requests, client=client, gateway=gateway, hosts=hosts, rate=rate
                )

        outcomes = asyncio.run(send())
        found = report(
            requests, outcomes, release=release, compare_with=compare_with, tolerance=tolerance
        )
        typer.echo(json.dumps(as_json(found), indent=2) if output == "json" else as_table(found))
