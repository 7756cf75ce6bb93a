"""The store's Secrets as the local engine reads them: `(namespace, name) -> Secret`.

The engine resolves `secretKeyRef`s and S3 credentials itself; this is the one function that
lets it read them without knowing the store (wired in by the composition root)."""

from __future__ import annotations

from collections.abc import Callable

from mlservice.resources import Secret, parse_as
from mlservice.store import Key, Store


def secret_lookup(store: Store) -> Callable[[str, str], Secret]:
    def lookup(namespace: str, name: str) -> Secret:
        return parse_as(Secret, store.get(Key("", "Secret", namespace, name)))

    return lookup
