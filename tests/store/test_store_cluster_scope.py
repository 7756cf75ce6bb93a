"""Cluster-scoped objects: keyed by namespace "", listed by a scope of "" or of all."""

from __future__ import annotations

import pytest

from mlservice.errors import InvalidObject
from mlservice.store import Key, Scope
from mlservice.store.sqlite import SqliteStore


def csr(name: str, **metadata: str) -> dict[str, object]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "metadata": {"name": name, **metadata},
        "spec": {"containers": [{"name": "kserve-container"}]},
    }


def test_a_cluster_scoped_key_has_the_empty_namespace() -> None:
    key = Key.of(csr("rt"))
    assert key == Key("serving.kserve.io", "ClusterServingRuntime", "", "rt")
    assert str(key) == "ClusterServingRuntime rt"
    assert Key.of(csr("rt", namespace="")) == key
    with pytest.raises(InvalidObject, match="cluster-scoped but has a namespace"):
        Key.of(csr("rt", namespace="default"))
    namespaced = {**csr("rt"), "kind": "ServingRuntime"}
    with pytest.raises(InvalidObject, match=r"has no metadata\.namespace"):
        Key.of(namespaced)


def test_cluster_scoped_objects_are_stored_and_listed(store: SqliteStore) -> None:
    store.create(csr("b"))
    store.create(csr("a"))
    everywhere = Scope("serving.kserve.io", "ClusterServingRuntime")
    assert [o["metadata"]["name"] for o in store.list(everywhere).items] == ["a", "b"]
    cluster = Scope("serving.kserve.io", "ClusterServingRuntime", "")
    assert len(store.list(cluster).items) == 2
    assert "namespace" not in store.get(Key.of(csr("a")))["metadata"]
