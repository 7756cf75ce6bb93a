"""Request-log events as people read them (`mls logs --requests`), in the reference's layout:

Context Attributes,
  specversion: 1.0
  ...
Extensions,
  component: predict
  ...
Data,
  {...}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mlservice.gateway.reqlog.events import CONTEXT, EXTENSIONS, SERVICE_ATTRIBUTES, from_json

DATA_LIMIT = 4096  # bytes of a non-JSON payload shown; a PNG is noise past its signature


def format_event(doc: Mapping[str, Any]) -> str:
    lines = ["Context Attributes,"]
    lines += [f"  {key}: {doc[key]}" for key in CONTEXT if key in doc]
    known = set(CONTEXT) | {"data", "data_base64"}
    extensions = [k for k in EXTENSIONS if k in doc]
    extensions += sorted(k for k in doc if k not in known and k not in EXTENSIONS)
    if extensions:
        lines.append("Extensions,")
        lines += [f"  {key}: {doc[key]}" for key in extensions]
    data = _data(doc)
    if data is not None:
        lines += ["Data,", data]
    return "\n".join(lines) + "\n"


def _data(doc: Mapping[str, Any]) -> str | None:
    if "data" in doc:
        return orjson.dumps(doc["data"], option=orjson.OPT_INDENT_2).decode()
    if "data_base64" not in doc:
        return None
    raw = from_json(doc).data
    text = raw[:DATA_LIMIT].decode("utf-8", errors="replace")
    more = f"\n  ... ({len(raw)} bytes in all)" if len(raw) > DATA_LIMIT else ""
    return f"  {text}{more}"


def matches(doc: Mapping[str, Any], *, service: str, namespace: str, release: str | None) -> bool:
    """Whether an event belongs to `service` in `namespace` (and `release`, if given), in
    either flavor (an MLService's `mlservicename`, an InferenceService's
    `inferenceservicename`; KServe's events name no release)."""
    named = next((doc[a] for a in SERVICE_ATTRIBUTES if a in doc), None)
    if named != service or doc.get("namespace") != namespace:
        return False
    return release is None or str(doc.get("source", "")).endswith(f"-{release}")
