"""Installing the built-in runtimes into the store at `mls up`: our MLServiceRuntimes
(`runtime/builtin/`) and KServe's ClusterServingRuntimes (`runtime/kserve/`).

Idempotent: a runtime that matches its manifest is left untouched (same resourceVersion), one
that differs (an older mlservice wrote it, or someone edited it) is put back, which rolls the
services that use it.
"""

from __future__ import annotations

from mlservice.errors import NotFound
from mlservice.runtime import builtin, kserve
from mlservice.store import Key, Store


def install_builtin_runtimes(store: Store) -> list[str]:
    """Create or restore every built-in runtime; the names of those written."""
    written = []
    for manifest in [*builtin.manifests(), *kserve.manifests()]:
        key = Key.of(manifest)
        try:
            current = store.get(key)
        except NotFound:
            store.create(manifest)
            written.append(key.name)
            continue
        replaced = store.replace(manifest)
        if replaced["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]:
            written.append(key.name)
    return written
