"""Sets up the benchmark peers: bench/.venvs/{kserve,mlserver} and the wrk/h2load load tools.

Usage: .venv/bin/python bench/peers.py [--python python3]
bench/server.py runs the same setup itself; this script exists to do it ahead of time.
"""

import argparse

from mlsbench import peerenv, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3", help="interpreter for the venvs (3.11)")
    args = parser.parse_args()
    peerenv.ensure_all(python=args.python)
    print("peers ready: " + ", ".join(str(targets.VENVS_DIR / p) for p in peerenv.PEERS))


if __name__ == "__main__":
    main()
