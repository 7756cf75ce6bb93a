"""api: see docs/architecture.md for what this package owns."""
