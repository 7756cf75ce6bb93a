"""`safe_join`: the one check for a path joined to a volume, the cache or a model folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlservice.errors import UnsafePath
from mlservice.storage import safe_join
from mlservice.storage.paths import escaping_link


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A volume with a folder, a file, links that stay inside and links that lead out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("not yours")
    root = tmp_path / "volume"
    (root / "models").mkdir(parents=True)
    (root / "models" / "model.bin").write_text("w")
    (root / "latest").symlink_to("models")
    (root / "alias.bin").symlink_to("models/model.bin")
    (root / "out").symlink_to(outside)
    (root / "secret.bin").symlink_to(outside / "secret")
    (root / "models" / "up").symlink_to("..")
    (root / "models" / "hop").symlink_to("../out")
    return root


@pytest.mark.parametrize(
    "relative",
    ["", ".", "models", "models/model.bin", "latest/model.bin", "alias.bin", "models/up/models",
     "not/there/yet"],
)  # fmt: skip
def test_paths_that_stay_inside_are_joined(root: Path, relative: str) -> None:
    assert safe_join(root, relative) == root.joinpath(*relative.split("/"))


@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("../volume/models", "contains '..'"),
        ("models/../../x", "contains '..'"),
        ("/etc/passwd", "is absolute"),
        ("models/\x00", "contains a NUL byte"),
        ("out", "leads outside volume v through a symlink (out links outside it)"),
        ("out/secret", "leads outside volume v through a symlink (out links outside it)"),
        ("secret.bin", "leads outside volume v through a symlink (secret.bin links outside it)"),
        ("models/hop/secret", "leads outside volume v through a symlink (models/hop links"),
        ("latest/hop/new", "leads outside volume v through a symlink (latest/hop links"),
    ],
)
def test_paths_that_leave_are_refused_naming_the_link(root: Path, relative: str, why: str) -> None:
    with pytest.raises(UnsafePath) as caught:
        safe_join(root, relative, within="volume v")
    assert caught.value.why.startswith(why)


def test_a_root_that_is_itself_a_link_is_its_target(root: Path, tmp_path: Path) -> None:
    # A volume kept on another disk through a symlink is still one volume.
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert safe_join(alias, "latest/model.bin") == alias / "latest" / "model.bin"
    with pytest.raises(UnsafePath):
        safe_join(alias, "out/secret")


def test_escaping_link_finds_the_first_link_out_of_a_folder(root: Path) -> None:
    assert escaping_link(root, root / "models") == root / "models" / "hop"
    (root / "models" / "hop").unlink()
    assert escaping_link(root, root / "models") is None
    assert escaping_link(root, root) == root / "out"
