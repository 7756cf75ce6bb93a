"""Secrets out of URLs before they are printed, logged or used as metric labels.

A request-log sink, a webhook or a registry URL may carry a password (`https://u:pw@host/`) or
a token in its query (`?token=...`); whoever reads a log line or scrapes `/metrics` must not
learn them. What stays is enough to tell URLs apart: scheme, user, host, port, path, the query's
keys.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """`url` with its password, query values and fragment replaced by `***`.

    >>> redact_url("https://bob:s3cret@sink.example:8443/in?token=abc&x=1#frag")
    'https://bob:***@sink.example:8443/in?token=***&x=***#***'
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: nothing in it can be trusted to be safe
        return MASK
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else netloc
    query = "&".join(_mask_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _mask_pair(pair: str) -> str:
    key, equals, _ = pair.partition("=")
    # A bare `?abc123` is a value without a key: mask it whole.
    return f"{key}={MASK}" if equals else MASK
