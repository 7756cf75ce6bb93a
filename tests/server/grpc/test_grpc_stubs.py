"""The committed gRPC stubs are exactly what the pinned grpcio-tools makes of proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

COMMITTED = REPO / "src" / "mlservice" / "server" / "grpc" / "generated"


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_grpc.py"), "--out", str(tmp_path)],
        check=True,
        timeout=60,
    )
    fresh = {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()}
    committed = {p.name: p.read_text() for p in COMMITTED.iterdir() if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale stubs {stale}: run `python scripts/gen_grpc.py` and commit"
