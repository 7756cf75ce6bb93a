"""The Dockerfile, linted without docker (no registry here, hadolint absent): its instructions
parse, it builds from python:3.11-slim, runs as a non-root user, and its entrypoint is the
CLI the rendered objects call (`mls` with `serve`, `storage-init`, `agent`, `operator`)."""

from __future__ import annotations

import json
import tomllib

from mlservice.engine.kube.render import DEFAULT_IMAGE
from tests.engine.kube.kube_helpers import ROOT

INSTRUCTIONS = {
    "FROM",
    "ARG",
    "ENV",
    "WORKDIR",
    "COPY",
    "RUN",
    "USER",
    "EXPOSE",
    "ENTRYPOINT",
    "CMD",
    "LABEL",
}


def instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments left out."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    found: list[tuple[str, str]] = []
    pending = ""
    for line in lines:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            found.append((word, rest))
            pending = ""
    assert not pending, "a continuation line at the end"
    return found


def test_every_instruction_is_known() -> None:
    assert {word for word, _ in instructions()} <= INSTRUCTIONS


def test_it_builds_from_python_slim_and_runs_as_a_user() -> None:
    found = instructions()
    bases = [rest.split()[0] for word, rest in found if word == "FROM"]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)
    users = [rest for word, rest in found if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")


def test_the_entrypoint_is_the_mls_script() -> None:
    found = instructions()
    (entrypoint,) = [json.loads(rest) for word, rest in found if word == "ENTRYPOINT"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["mls"]
    assert "mls" in scripts


def test_the_extras_it_installs_exist() -> None:
    (arg,) = [rest for word, rest in instructions() if word == "ARG" and "EXTRAS" in rest]
    extras = arg.split("=", 1)[1].split(",")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(extras) <= set(declared["optional-dependencies"])
    assert "kube" in extras  # the operator runs from this image


def test_what_it_copies_is_in_the_build_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, source


def test_the_rendered_objects_name_the_image_the_dockerfile_documents() -> None:
    assert f"docker build -t {DEFAULT_IMAGE} ." in (ROOT / "Dockerfile").read_text()
