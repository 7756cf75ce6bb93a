"""Lets `pytest bench/tests` import the harness (`mlsbench`) the way bench/server.py does."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
