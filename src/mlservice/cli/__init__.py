"""The `mls` command line. Each command group lives in its own module and registers itself;
`main` imports only the module of the command being run."""

from mlservice.cli.app import build_app, main

__all__ = ["build_app", "main"]
