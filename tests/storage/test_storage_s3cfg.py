"""The `.s3cfg` parser and model URI parsing: pure functions, no servers."""

from __future__ import annotations

import pytest

import mlservice.storage
from mlservice.errors import InvalidStorageSource
from mlservice.storage import Secret, parse_s3cfg, parse_uri

S3CFG = """[default]
access_key = AKIAEXAMPLEKEY
bucket_location = US
host_base = minio.example.com:9000
host_bucket = minio.example.com:9000
secret_key = s3cr3t/KEY+value
signature_v2 = False
use_https = True
enable_multipart = True
"""


def test_s3cmd_fields_are_read() -> None:
    config = parse_s3cfg(S3CFG)
    assert config.endpoint_url == "https://minio.example.com:9000"
    assert config.addressing_style == "path"
    assert config.region == "us-east-1"
    assert config.signature_v2 is False
    assert config.access_key.reveal() == "AKIAEXAMPLEKEY"
    assert config.secret_key.reveal() == "s3cr3t/KEY+value"


def test_defaults_follow_s3cmd() -> None:
    config = parse_s3cfg("[default]\naccess_key = a\nsecret_key = b\nsignature_v2 = yes\n")
    assert config.endpoint_url == "https://s3.amazonaws.com"
    assert config.addressing_style == "virtual"  # host_bucket keeps s3cmd's %(bucket)s
    assert config.signature_v2 is True


def test_keys_are_hidden_from_repr_str_and_format() -> None:
    config = parse_s3cfg(S3CFG)
    shown = f"{config!r} {config!s} {config.secret_key} {config.access_key!r}"
    assert "s3cr3t" not in shown
    assert "AKIAEXAMPLEKEY" not in shown
    assert "Secret('***')" in shown
    assert Secret("x") == Secret("x") != Secret("y")


def test_bad_boolean_names_the_field_not_the_value() -> None:
    """F3: a value is never quoted, not even a flag's (a misplaced line may hold a key)."""
    with pytest.raises(InvalidStorageSource) as caught:
        parse_s3cfg(S3CFG.replace("use_https = True", "use_https = s3cr3t-misplaced"))
    assert caught.value.message == "The .s3cfg field use_https is not a boolean; use True or False."


def test_malformed_text_gives_the_line_not_its_content() -> None:
    text = "[default]\naccess_key = a\nsecret_key s3cr3t-on-a-broken-line\n"
    with pytest.raises(InvalidStorageSource) as caught:
        parse_s3cfg(text)
    assert caught.value.message == "The .s3cfg text is not in s3cmd INI format at line 3."
    assert "s3cr3t" not in repr(caught.value.__cause__) + repr(caught.value.__context__)
    with pytest.raises(InvalidStorageSource, match="at line 2"):
        parse_s3cfg(text.removeprefix("[default]\n"))  # s3cmd-style text without a header


def test_missing_default_section_is_refused() -> None:
    with pytest.raises(InvalidStorageSource, match=r"has no \[default\] section"):
        parse_s3cfg("[other]\naccess_key = a\n")


@pytest.mark.parametrize(
    ("raw", "scheme", "rest"),
    [
        ("pvc://models/sk", "pvc", "models/sk"),
        ("S3://bucket/prefix/", "s3", "bucket/prefix/"),
        ("https://host/m.bin", "https", "host/m.bin"),
        ("file:///srv/model", "file", "/srv/model"),
        ("/srv/model", "file", "/srv/model"),
        ("relative/model", "file", "relative/model"),
    ],
)
def test_uris_split_into_scheme_and_rest(raw: str, scheme: str, rest: str) -> None:
    uri = parse_uri(raw)
    assert (uri.scheme, uri.rest) == (scheme, rest)


def test_display_drops_user_info_and_query() -> None:
    uri = parse_uri("https://user:pa55@host:8443/m.bin?X-Amz-Signature=abc")
    assert uri.display == "https://***@host:8443/m.bin"
    assert str(uri) == uri.display
    assert parse_uri("s3://bucket/a@b?c").display == "s3://bucket/a@b?c"


@pytest.mark.parametrize("raw", ["", "   ", "pvc://", "ftp://host/m"])
def test_bad_uris_are_refused(raw: str) -> None:
    with pytest.raises(InvalidStorageSource):
        parse_uri(raw)


def test_public_surface_is_explicit_and_sorted() -> None:
    exported = mlservice.storage.__all__
    # constants, then classes, then functions, as ruff's RUF022 orders them
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in exported:
        assert getattr(mlservice.storage, name) is not None
