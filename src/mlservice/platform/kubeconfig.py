"""`$MLS_HOME/kubeconfig`: what kubectl, the kubernetes client and `KServeClient` read.

One cluster, one user and one context, all named `mls`: the API's TLS listener with the data
dir's CA embedded (clients verify it, no `insecure-skip-tls-verify`), the API token, and the
`default` namespace. `mls up` writes it once the API listens, and again only when what it says
changes (the TLS port picked, the token), so a kubectl reading it meanwhile sees a whole file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

NAME = "mls"
"""The cluster's, the user's and the context's name, as `kubectl config get-contexts` shows."""
NAMESPACE = "default"


def kubeconfig(*, server: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    """The kubeconfig document for the API at `server` (`https://127.0.0.1:PORT`)."""
    cluster = {
        "server": server,
        "certificate-authority-data": base64.b64encode(ca_pem).decode(),
    }
    context = {"cluster": NAME, "user": NAME, "namespace": NAMESPACE}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": {"token": token}}],
        "contexts": [{"name": NAME, "context": context}],
        "current-context": NAME,
        "preferences": {},
    }


def write_kubeconfig(path: Path, document: dict[str, Any]) -> bool:
    """Write `document` to `path` (0600) unless it already says that; True if written."""
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass  # missing or unreadable: written anew below
    # It holds the token: 0600 from creation, then renamed over the old one.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return True
