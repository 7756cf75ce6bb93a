"""`make run`'s interim demo: it trains iris, serves it, and its printed commands work."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest
from server_procs import Launcher

pytestmark = pytest.mark.e2e


def test_demo_serves_iris_and_its_curl_commands_answer(launcher: Launcher, tmp_path: Path) -> None:
    served = launcher.spawn(
        [sys.executable, "-m", "mlservice.demo"],
        name="demo",
        env={"MLS_HOME": str(tmp_path), "PORT": "0"},
    )
    assert (tmp_path / "demo" / "iris" / "model.joblib").is_file()
    commands = re.findall(r"curl -s (\S+) -d '(.+)'", served.log_text())
    assert len(commands) == 2
    answers = []
    for url, body in commands:
        real_url = url.replace("127.0.0.1:0", served.url.removeprefix("http://"))
        answers.append(httpx.post(real_url, json=json.loads(body), timeout=30).json())
    assert answers[0] == {"predictions": [1]}  # versicolor
    assert answers[1]["outputs"][0]["data"] == [1]
    served.stop()
