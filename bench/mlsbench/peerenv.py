"""The peers' venvs (bench/.venvs/NAME from bench/peers/NAME-requirements.txt) and load tools.

Each peer pins dependencies that conflict with ours and with each other, so each gets its own
venv from the machine's python3. A stamp holding the requirements' digest makes a second run a
no-op; editing a requirements file reinstalls on the next run.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess

from mlsbench.targets import PEERS_DIR, VENVS_DIR

PEERS = ("kserve", "mlserver")
# Debian package per load-generator binary.
TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client", "taskset": "util-linux"}
STAMP = ".mlsbench-stamp"


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_python(python: str) -> None:
    result = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    version = result.stdout.strip()
    if result.returncode != 0 or version != "3.11":
        raise RuntimeError(f"python {python!r} is {version or 'not runnable'}, peers need 3.11")


def ensure_venv(peer: str, *, python: str) -> pathlib.Path:
    """Creates or refreshes bench/.venvs/`peer`; returns its directory."""
    requirements = PEERS_DIR / f"{peer}-requirements.txt"
    venv = VENVS_DIR / peer
    stamp = venv / STAMP
    if stamp.exists() and stamp.read_text() == _digest(requirements):
        return venv
    if not (venv / "bin" / "python").exists():
        _check_python(python)
        print(f"creating {venv} with {python}", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    print(f"installing {requirements.name} into {venv}", flush=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--disable-pip-version-check", "-r", str(requirements)], check=True)
    stamp.write_text(_digest(requirements))
    return venv


def ensure_tools() -> None:
    """Installs wrk and h2load from Debian when missing (needs root, like apt-get itself)."""
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"load tools are missing; run: sudo apt-get install {' '.join(missing)}")
    print(f"installing {', '.join(missing)} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)


def ensure_all(*, python: str = "python3", peers: tuple[str, ...] = PEERS) -> None:
    ensure_tools()
    for peer in peers:
        ensure_venv(peer, python=python)
