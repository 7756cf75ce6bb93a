"""Result rows, the Markdown tables printed and recorded, and our ratios against each peer."""

import dataclasses
import datetime
import os
import pathlib
import platform
import shlex
import sys

from mlsbench.procs import CpuUse
from mlsbench.wrk import LoadResult

OURS = ("ours", "ours-batch")
# Issue targets at concurrency 16: rps multiple over every peer (p99 must never be worse).
REST_TARGETS = {"ours": 2.0, "ours-batch": 4.0}
GRPC_TARGET = 1.5
TARGET_CONCURRENCY = 16


# Past this share of the server's core going to other processes, a row's rps is suspect.
NOISY_PCT = 5.0


@dataclasses.dataclass(frozen=True)
class Row:
    server: str
    protocol: str
    concurrency: int
    load: LoadResult
    cpu: CpuUse

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu.server_ms / max(self.load.requests, 1)

    def others(self) -> str:
        pct = self.cpu.others_pct
        return "n/a" if pct is None else f"{pct:.0f}%"

    def latency_suspect(self) -> bool:
        """Whether p50 contradicts Little's law: with `concurrency` requests always in flight
        the mean latency is concurrency / rps, and a median three times that cannot happen."""
        mean_ms = 1000.0 * self.concurrency / self.load.rps if self.load.rps else 0.0
        return bool(self.load.suspect) or self.load.p50_ms > 3 * mean_ms

    def noise_note(self) -> str:
        notes = []
        pct = self.cpu.others_pct
        if pct is not None and pct > NOISY_PCT:
            notes.append(f"noisy: other processes took {pct:.0f}% of the server's core")
        if self.load.suspect:
            notes.append(self.load.suspect)
        elif self.latency_suspect():
            notes.append("latencies contradict the throughput (Little's law)")
        return f" ({'; '.join(notes)})" if notes else ""


def rows_table(rows: list[Row]) -> str:
    lines = [
        "| server | protocol | concurrency | rps | p50 ms | p99 ms | server CPU ms/req "
        "| others on server core | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.server} | {r.protocol} | {r.concurrency} | {r.load.rps:,.0f} "
            f"| {r.load.p50_ms:.2f} | {r.load.p99_ms:.2f} | {r.cpu_ms_per_request:.3f} "
            f"| {r.others()} | {r.load.errors} |"
        )
    return "\n".join(lines)


def _target_for(ours: str, protocol: str, concurrency: int) -> float | None:
    if concurrency != TARGET_CONCURRENCY:
        return None
    return GRPC_TARGET if protocol == "grpc" else REST_TARGETS.get(ours)


def ratios_table(rows: list[Row]) -> str:
    """Ours vs every peer at the same protocol and concurrency; empty when a side is missing."""
    lines = [
        "| ours | vs | protocol | concurrency | rps ratio | target | p99 ours / peer ms "
        "| p99 no worse |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for mine in (r for r in rows if r.server in OURS):
        for peer in rows:
            if peer.server in OURS or (peer.protocol, peer.concurrency) != (
                mine.protocol,
                mine.concurrency,
            ):
                continue
            ratio = mine.load.rps / peer.load.rps if peer.load.rps else float("inf")
            target = _target_for(mine.server, mine.protocol, mine.concurrency)
            verdict = (
                "" if target is None else f"{target:g}x {'met' if ratio >= target else 'MISSED'}"
            )
            p99_ok = "yes" if mine.load.p99_ms <= peer.load.p99_ms else "NO"
            lines.append(
                f"| {mine.server} | {peer.server} | {mine.protocol} | {mine.concurrency} "
                f"| {ratio:.2f}x | {verdict} | {mine.load.p99_ms:.2f} / {peer.load.p99_ms:.2f} "
                f"| {p99_ok} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def machine() -> str:
    """nproc, CPU model, kernel and load average: the context every number needs."""
    model = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, Linux {platform.release()}, load average {load}"


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]
    notes: list[str]


def markdown(section: Section, *, when: datetime.date, command: str, machine_line: str) -> str:
    parts = [
        f"## {when.isoformat()} {section.title}",
        "",
        f"- Machine: {machine_line}.",
        f"- Command: `{command}`",
        *(f"- {note}" for note in section.notes),
        "",
        rows_table(section.rows),
    ]
    ratios = ratios_table(section.rows)
    if ratios:
        parts += ["", ratios]
    return "\n".join(parts) + "\n"


def append(results: pathlib.Path, text: str) -> None:
    """Appends a section to RESULTS.md, creating it with its heading the first time."""
    if not results.exists():
        results.write_text(
            "# Benchmark results\n\nAppended by `bench/server.py`; newest last. "
            "See bench/README.md for what each column means.\n"
        )
    with results.open("a") as out:
        out.write("\n" + text)


def dated_section(title: str, *, script: str, notes: list[str], body: list[str]) -> str:
    """A RESULTS.md section for a proxy benchmark: today's heading, the machine, the command
    that ran (`script` with this process's arguments), the notes, then `body`'s lines."""
    command = shlex.join(["python", script, *sys.argv[1:]])
    parts = [
        f"## {datetime.date.today().isoformat()} {title}",
        "",
        f"- Machine: {machine()}.",
        f"- Command: `{command}`",
        *(f"- {note}" for note in notes),
        "",
        *body,
    ]
    return "\n".join(parts) + "\n"


def publish(text: str, *, results: pathlib.Path, record: bool) -> None:
    """Print a section, and append it to `results` unless told not to."""
    print("\n" + text)
    if record:
        append(results, text)
        print(f"appended to {results.name}")
