"""The `mls` command line. Each command group lives in its own module and registers itself."""

from mlservice.cli.app import app, main

__all__ = ["app", "main"]
