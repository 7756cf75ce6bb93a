"""The s3cmd `.s3cfg` format an S3 Secret carries, parsed into a value that never shows its keys.

s3cmd writes an INI file with a `[default]` section; the fields that matter to a download are
`host_base`, `host_bucket`, `bucket_location`, `use_https`, `access_key`, `secret_key` and
`signature_v2`. Others (s3cmd has dozens) are ignored.
"""

from __future__ import annotations

import configparser
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from mlservice.errors import InvalidStorageSource

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
# s3cmd's legacy names for the two oldest regions
_REGIONS = {"": "us-east-1", "us": "us-east-1", "eu": "eu-west-1"}


class Secret:
    """A credential whose repr and str are masked, so it cannot leak through logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that must send it (the S3 client)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


_NONE = Secret("")


@dataclass(frozen=True)
class S3Config:
    """Where and how to reach S3, from an `.s3cfg`."""

    host_base: str = "s3.amazonaws.com"
    host_bucket: str = "%(bucket)s.s3.amazonaws.com"
    bucket_location: str = "us-east-1"
    use_https: bool = True
    access_key: Secret = _NONE
    secret_key: Secret = _NONE
    signature_v2: bool = False
    verify_ssl: bool = True
    """Check the endpoint's certificate (KServe's `s3-verifyssl`; s3cmd has no such field)."""

    @property
    def endpoint_url(self) -> str:
        if self.host_base.startswith(("http://", "https://")):
            return self.host_base
        return f"{'https' if self.use_https else 'http'}://{self.host_base}"

    @property
    def region(self) -> str:
        return _REGIONS.get(self.bucket_location.lower(), self.bucket_location)

    @property
    def addressing_style(self) -> str:
        """s3cmd's rule: a `host_bucket` without `%(bucket)s` means path-style requests."""
        return "virtual" if "%(bucket)s" in self.host_bucket else "path"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no log line may contain."""
        return (self.access_key.reveal(), self.secret_key.reveal())


def parse_s3cfg(text: str) -> S3Config:
    """Read an s3cmd config; errors name the field or line number, never a value or a line."""
    section = _section(text)
    fields = {k: v.strip() for k, v in section.items()}
    defaults = S3Config()
    return S3Config(
        host_base=fields.get("host_base") or defaults.host_base,
        host_bucket=fields.get("host_bucket") or defaults.host_bucket,
        bucket_location=fields.get("bucket_location", defaults.bucket_location),
        use_https=_flag(fields, "use_https", default=defaults.use_https),
        access_key=Secret(fields.get("access_key", "")),
        secret_key=Secret(fields.get("secret_key", "")),
        signature_v2=_flag(fields, "signature_v2", default=defaults.signature_v2),
    )


def _section(text: str) -> configparser.SectionProxy:
    # No interpolation: s3cmd's host_bucket holds a literal "%(bucket)s".
    parser = configparser.ConfigParser(interpolation=None)
    headerless = not text.lstrip().startswith("[")
    if headerless:
        text = "[default]\n" + text
    failure: configparser.Error | None = None
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        failure = exc
    if failure is not None:
        # configparser's messages quote the offending line, which may hold a key: keep only the
        # line number, and raise outside the `except` so the original is not kept as context.
        line = getattr(failure, "lineno", None) or _first_error_line(failure)
        where = f" at line {line - headerless}" if line else ""
        raise InvalidStorageSource(f"The .s3cfg text is not in s3cmd INI format{where}.")
    if parser.has_section("default"):
        return parser["default"]
    raise InvalidStorageSource("The .s3cfg text has no [default] section.")


def _first_error_line(exc: configparser.Error) -> int | None:
    errors = getattr(exc, "errors", None)
    return int(errors[0][0]) if errors else None


def _flag(fields: dict[str, str], name: str, *, default: bool) -> bool:
    # Not quoted: the whole text is a credential, and a misplaced line may hold a key.
    invalid = f"The .s3cfg field {name} is not a boolean; use True or False."
    return _boolean(fields.get(name, "").lower(), default=default, invalid=invalid)


def _boolean(raw: str, *, default: bool, invalid: str) -> bool:
    """`raw` (lower case) as a boolean, `default` when empty; InvalidStorageSource(`invalid`)
    when it is neither."""
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidStorageSource(invalid)


def s3_config_from_env(env: Mapping[str, str]) -> S3Config | None:
    """An S3Config from the variables KServe's storage initializer reads (what its credential
    builder sets from an S3 Secret's keys and annotations), None when no endpoint is named:
    then boto3 reads `AWS_*` and its other sources itself, as on AWS.

    `AWS_ENDPOINT_URL` (a URL) or `S3_ENDPOINT` (`host[:port]`, the scheme from `S3_USE_HTTPS`,
    "0" for http), `S3_VERIFY_SSL` ("0": no certificate check), `AWS_REGION` or
    `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (unsigned requests
    without them, or with `awsAnonymousCredential` "true"), `S3_USER_VIRTUAL_BUCKET` ("true":
    bucket in the host name; path-style otherwise, as on MinIO).
    """
    endpoint = env.get("AWS_ENDPOINT_URL") or env.get("S3_ENDPOINT") or ""
    if not endpoint:
        return None
    use_https = _env_flag(env, "S3_USE_HTTPS", default=True)
    if endpoint.startswith(("http://", "https://")):
        use_https = endpoint.startswith("https://")
    host = endpoint.split("://", 1)[-1].rstrip("/")
    virtual = _env_flag(env, "S3_USER_VIRTUAL_BUCKET", default=False)
    anonymous = _env_flag(env, "awsAnonymousCredential", default=False)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return S3Config(
        host_base=host,
        host_bucket=f"%(bucket)s.{host}" if virtual else host,
        bucket_location=region,
        use_https=use_https,
        access_key=Secret("" if anonymous else env.get("AWS_ACCESS_KEY_ID", "")),
        secret_key=Secret("" if anonymous else env.get("AWS_SECRET_ACCESS_KEY", "")),
        verify_ssl=_env_flag(env, "S3_VERIFY_SSL", default=True),
    )


def _env_flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    invalid = f"The variable {name} is not a boolean; use 1 or 0."
    return _boolean(env.get(name, "").strip().lower(), default=default, invalid=invalid)
