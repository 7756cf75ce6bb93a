"""The test suite, a package: pytest imports each test module by its dotted name from the
repository root, so shared helpers are plain imports (`from tests.support.cli import mls`)."""
