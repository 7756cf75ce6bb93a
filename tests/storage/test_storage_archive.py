"""Archive extraction: good archives come out whole; hostile ones are refused, writing nothing."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlservice.errors import StorageError, UnsafeArchiveError
from mlservice.storage import extract_archive, is_archive

# (name, type, linkname); type is a tarfile type constant
Member = tuple[str, bytes, str]


def build_tar(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, link in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            data = b"payload of " + name.encode() if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def build_zip(path: Path, names: list[str]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which we want
        with zipfile.ZipFile(path, "w") as zf:
            for name in names:
                zf.writestr(name, b"payload of " + name.encode())
    return path


def tree(root: Path) -> set[str]:
    """Every path under `root`, links listed but not followed."""
    found = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(Path(folder, name).relative_to(root).as_posix())
    return found


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    (tmp_path / "box").mkdir()
    return tmp_path


def test_tar_gz_extracts_nested_files_and_inner_symlinks(sandbox: Path) -> None:
    archive = build_tar(
        sandbox / "model.tar.gz",
        [
            ("./", tarfile.DIRTYPE, ""),
            ("./model/weights.bin", tarfile.REGTYPE, ""),
            ("./model/latest", tarfile.SYMTYPE, "weights.bin"),
            ("./model/copy.bin", tarfile.LNKTYPE, "model/weights.bin"),
        ],
    )
    target = sandbox / "box" / "target"
    extract_archive(archive, target)
    assert (target / "model" / "weights.bin").read_bytes() == b"payload of ./model/weights.bin"
    assert (target / "model" / "latest").read_bytes() == b"payload of ./model/weights.bin"
    assert (target / "model" / "copy.bin").read_bytes() == b"payload of ./model/weights.bin"
    assert tree(sandbox / "box") == {"target", "target/model"} | {
        f"target/model/{n}" for n in ("weights.bin", "latest", "copy.bin")
    }


def test_zip_extracts_nested_files(sandbox: Path) -> None:
    archive = build_zip(sandbox / "model.zip", ["model/a.txt", "b.txt"])
    extract_archive(archive, sandbox / "box" / "target")
    assert (
        sandbox / "box" / "target" / "model" / "a.txt"
    ).read_bytes() == b"payload of model/a.txt"
    assert (sandbox / "box" / "target" / "b.txt").exists()


UNSAFE_TARS: dict[str, tuple[list[Member], str]] = {
    "dotdot": ([("ok.txt", tarfile.REGTYPE, ""), ("../evil.txt", tarfile.REGTYPE, "")], "../evil"),
    "deep dotdot": ([("a/../../../evil.txt", tarfile.REGTYPE, "")], "a/../../../evil"),
    "absolute": ([("ABS/evil.txt", tarfile.REGTYPE, "")], "ABS/evil.txt"),
    "symlink out": ([("link", tarfile.SYMTYPE, "../../outside")], "link"),
    "symlink absolute": ([("link", tarfile.SYMTYPE, "ABS")], "link"),
    "write through symlink": (
        [("link", tarfile.SYMTYPE, "ABS"), ("link/evil.txt", tarfile.REGTYPE, "")],
        "link",
    ),
    "through inner symlink": (
        [("d", tarfile.SYMTYPE, "sub"), ("d/evil.txt", tarfile.REGTYPE, "")],
        "d/evil.txt",
    ),
    "symlink chain out": (
        [("a", tarfile.SYMTYPE, "."), ("b", tarfile.SYMTYPE, "a/../escape")],
        "b",
    ),
    "hardlink out": ([("h", tarfile.LNKTYPE, "../../etc/passwd")], "h"),
    "hardlink to symlink": (
        [("s", tarfile.SYMTYPE, "ABS"), ("h", tarfile.LNKTYPE, "s")],
        "s",
    ),
    "file over symlink": (
        [("s", tarfile.SYMTYPE, "x"), ("s", tarfile.REGTYPE, "")],
        "s",
    ),
    "device": ([("dev", tarfile.CHRTYPE, "")], "dev"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_TARS))
def test_unsafe_tar_is_refused_and_nothing_is_written(sandbox: Path, case: str) -> None:
    members, culprit = UNSAFE_TARS[case]
    absolute = str(sandbox / "abs-evil")
    members = [(n.replace("ABS", absolute), k, v.replace("ABS", absolute)) for n, k, v in members]
    archive = build_tar(sandbox / "model.tar.gz", members)
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_archive(archive, sandbox / "box" / "target", label="s3://models/model.tar.gz")
    message = caught.value.message
    assert culprit.replace("ABS", absolute) in message
    assert message.startswith("Archive s3://models/model.tar.gz has entry")
    assert tree(sandbox) == {"model.tar.gz", "box"}


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "ABS/evil.txt"])
def test_zip_slip_is_refused_and_nothing_is_written(sandbox: Path, name: str) -> None:
    name = name.replace("ABS", str(sandbox))
    archive = build_zip(sandbox / "model.zip", ["fine.txt", name])
    with pytest.raises(UnsafeArchiveError, match="nothing was extracted"):
        extract_archive(archive, sandbox / "box" / "target")
    assert tree(sandbox) == {"model.zip", "box"}


def test_corrupt_archive_is_a_storage_error_naming_it(sandbox: Path) -> None:
    archive = sandbox / "model.tgz"
    archive.write_bytes(b"this is not gzip")
    with pytest.raises(
        StorageError, match=r"Archive http://x/model\.tgz is not a readable"
    ) as caught:
        extract_archive(archive, sandbox / "box" / "target", label="http://x/model.tgz")
    assert not isinstance(caught.value, UnsafeArchiveError)
    assert tree(sandbox) == {"model.tgz", "box"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("m.tar.gz", True), ("M.TGZ", True), ("m.zip", True), ("m.tar", False), ("m.pt", False)],
)
def test_archives_are_recognized_by_name(name: str, expected: bool) -> None:
    assert is_archive(name) is expected


# Property: whatever names and links an archive holds, extraction either succeeds with every
# path inside the target, or fails; in both cases nothing appears outside the target.
SEGMENT = st.sampled_from(["a", "b", "m.bin", "..", ".", ""])
NAME = st.builds(
    lambda lead, parts: lead + "/".join(parts),
    st.sampled_from(["", "", "./", "/", "ROOT/"]),
    st.lists(SEGMENT, min_size=1, max_size=4),
)
KIND = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE])
MEMBERS = st.lists(st.tuples(NAME, KIND, NAME), min_size=1, max_size=6)


def _check_contained(root: Path, build: Callable[[Path], Path]) -> None:
    (root / "box").mkdir()
    archive = build(root)
    target = root / "box" / "target"
    try:
        extract_archive(archive, target)
    except StorageError:
        assert tree(root) == {archive.name, "box"}
        return
    outside = {p for p in tree(root) if p != "box/target" and not p.startswith("box/target/")}
    assert outside == {archive.name, "box"}
    for path in target.rglob("*"):
        assert os.path.realpath(path).startswith(os.path.realpath(target) + os.sep)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MEMBERS)
def test_tar_extraction_never_writes_outside_the_target(members: list[Member]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def build(root: Path) -> Path:
            absolute = [
                (n.replace("ROOT", str(root)), k, v.replace("ROOT", str(root)))
                for n, k, v in members
            ]
            return build_tar(root / "m.tar.gz", absolute)

        _check_contained(root, build)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NAME.filter(bool), min_size=1, max_size=5))  # zipfile cannot write ""
def test_zip_extraction_never_writes_outside_the_target(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _check_contained(
            root, lambda r: build_zip(r / "m.zip", [n.replace("ROOT", str(r)) for n in names])
        )
