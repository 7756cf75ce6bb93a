"""Ratios and verdicts in the tables the benchmark prints and records."""

import dataclasses
import datetime

from mlsbench import report
from mlsbench.procs import CpuUse
from mlsbench.wrk import LoadResult


def _row(server: str, rps: float, p99: float, *, protocol: str = "rest", c: int = 16) -> report.Row:
    load = LoadResult(requests=int(rps * 10), seconds=10.0, p50_ms=p99 / 2, p99_ms=p99, errors=0)
    cpu = CpuUse(server_ms=0.5 * load.requests, others_pct=2.4)
    return report.Row(server, protocol, c, load, cpu)


def test_ratio_meets_the_target_at_concurrency_16():
    table = report.ratios_table([_row("ours", 2000, 5.0), _row("kserve", 900, 9.0)])
    assert "| ours | kserve | rest | 16 | 2.22x | 2x met | 5.00 / 9.00 | yes |" in table


def test_ratio_misses_the_batching_target_and_flags_a_worse_p99():
    table = report.ratios_table([_row("ours-batch", 3000, 12.0), _row("mlserver", 1000, 10.0)])
    assert "| 3.00x | 4x MISSED | 12.00 / 10.00 | NO |" in table


def test_rows_pair_only_with_the_same_protocol_and_concurrency():
    rows = [
        _row("ours", 2000, 5.0, c=1),
        _row("kserve", 1000, 9.0, c=16),
        _row("mlserver", 1000, 9.0, protocol="grpc", c=1),
    ]
    assert report.ratios_table(rows) == ""


def test_grpc_target_is_one_and_a_half():
    rows = [_row("ours", 1400, 5.0, protocol="grpc"), _row("mlserver", 1000, 9.0, protocol="grpc")]
    assert "| 1.40x | 1.5x MISSED |" in report.ratios_table(rows)


def test_markdown_section_is_dated_and_names_the_command(tmp_path):
    section = report.Section("server (REST)", [_row("kserve", 900, 9.0)], ["A note."])
    text = report.markdown(
        section,
        when=datetime.date(2026, 11, 26),
        command="python bench/server.py",
        machine_line="2 cores",
    )
    results = tmp_path / "RESULTS.md"
    report.append(results, text)
    report.append(results, text)
    written = results.read_text()
    assert written.startswith("# Benchmark results")
    assert written.count("## 2026-11-26 server (REST)") == 2
    assert "Command: `python bench/server.py`" in written
    assert "| kserve | rest | 16 | 900 | 4.50 | 9.00 | 0.500 | 2% | 0 |" in written


def test_a_row_is_noisy_when_others_took_the_servers_core():
    load = LoadResult(requests=100, seconds=1.0, p50_ms=1.0, p99_ms=2.0, errors=0)
    quiet = report.Row("ours", "rest", 1, load, CpuUse(server_ms=90.0, others_pct=3.0))
    noisy = report.Row("ours", "rest", 1, load, CpuUse(server_ms=90.0, others_pct=40.0))
    unpinned = report.Row("ours", "rest", 1, load, CpuUse(server_ms=90.0, others_pct=None))
    assert quiet.noise_note() == ""
    assert "other processes took 40%" in noisy.noise_note()
    assert (unpinned.others(), unpinned.noise_note()) == ("n/a", "")


def test_a_median_beyond_littles_law_is_suspect():
    # 16 in flight at 2,000 rps means 8 ms on average: a 117 ms median cannot be right.
    load = LoadResult(requests=20_000, seconds=10.0, p50_ms=117.0, p99_ms=150.0, errors=0)
    row = report.Row("ours", "grpc", 16, load, CpuUse(server_ms=1.0, others_pct=0.0))
    assert row.latency_suspect()
    assert "Little's law" in row.noise_note()
    sane = dataclasses.replace(load, p50_ms=7.5)
    assert not dataclasses.replace(row, load=sane).latency_suspect()
