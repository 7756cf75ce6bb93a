"""The store's Secrets and ServiceAccounts as the local engine reads them: `(namespace, name) ->
object`.

The engine resolves `secretKeyRef`s and S3 credentials (KServe's through a ServiceAccount)
itself; these are the functions that let it read them without knowing the store (wired in by
the composition root)."""

from __future__ import annotations

from collections.abc import Callable

from mlservice.resources import Secret, ServiceAccount, parse_as
from mlservice.store import Key, Store


def secret_lookup(store: Store) -> Callable[[str, str], Secret]:
    def lookup(namespace: str, name: str) -> Secret:
        return parse_as(Secret, store.get(Key("", "Secret", namespace, name)))

    return lookup


def service_account_lookup(store: Store) -> Callable[[str, str], ServiceAccount]:
    def lookup(namespace: str, name: str) -> ServiceAccount:
        return parse_as(ServiceAccount, store.get(Key("", "ServiceAccount", namespace, name)))

    return lookup
