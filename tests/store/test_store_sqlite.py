"""SqliteStore: server-set metadata, generation, optimistic concurrency, durability."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from mlservice import errors
from mlservice.store import Key, Scope
from mlservice.store.sqlite import SqliteStore

MLSVC = Scope("tensorstack.dev", "MLService")


def mlservice(name: str, *, namespace: str = "default", default: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "a"}},
        "spec": {"default": default, "releases": [{"name": default}]},
    }


def key(name: str, namespace: str = "default") -> Key:
    return Key("tensorstack.dev", "MLService", namespace, name)


def test_create_stamps_server_metadata(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    meta = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"] == "1"
    assert meta["generation"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert store.get(key("a")) == created


def test_create_of_existing_name_is_already_exists(store: SqliteStore) -> None:
    store.create(mlservice("a"))
    with pytest.raises(errors.AlreadyExists, match="MLService default/a already exists"):
        store.create(mlservice("a"))
    assert issubclass(errors.AlreadyExists, errors.Conflict)
    store.create(mlservice("a", namespace="other"))  # same name, other namespace is fine


def test_resource_version_is_monotonic_across_kinds_and_namespaces(store: SqliteStore) -> None:
    versions = [
        store.create(mlservice("a"))["metadata"]["resourceVersion"],
        store.create(mlservice("a", namespace="x"))["metadata"]["resourceVersion"],
        store.create({**mlservice("a"), "kind": "SimpleMLService"})["metadata"]["resourceVersion"],
    ]
    assert [int(v) for v in versions] == [1, 2, 3]
    assert store.resource_version() == 3


def test_spec_change_bumps_generation_but_metadata_change_does_not(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    relabeled = {**created, "metadata": {**created["metadata"], "labels": {"team": "b"}}}
    after_labels = store.replace(relabeled)
    assert after_labels["metadata"]["generation"] == 1
    assert int(after_labels["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    respec = {**after_labels, "spec": {"default": "v2", "releases": [{"name": "v2"}]}}
    assert store.replace(respec)["metadata"]["generation"] == 2


def test_replace_keeps_status_and_server_fields(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    with_status = store.update_status({**created, "status": {"ready": True}})
    assert with_status["metadata"]["generation"] == 1
    attempt = mlservice("a", default="v2")
    attempt["status"] = {"ready": False}
    attempt["metadata"]["uid"] = "forged"
    replaced = store.replace(attempt)
    assert replaced["status"] == {"ready": True}
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert replaced["metadata"]["generation"] == 2


def test_update_status_ignores_spec_in_the_request(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    updated = store.update_status({**mlservice("a", default="zzz"), "status": {"ready": True}})
    assert updated["spec"] == created["spec"]
    assert updated["status"] == {"ready": True}


def test_stale_resource_version_is_a_conflict(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    store.replace(mlservice("a", default="v2"))  # no resourceVersion: unconditional
    stale = {**created, "spec": {"default": "v3", "releases": [{"name": "v3"}]}}
    with pytest.raises(errors.Conflict, match=r"resourceVersion 2, the request was based on 1"):
        store.replace(stale)
    with pytest.raises(errors.Conflict):
        store.update_status({**created, "status": {"ready": True}})
    with pytest.raises(errors.Conflict):
        store.delete(key("a"), resource_version=1)


def test_no_op_write_keeps_the_resource_version(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    assert store.replace(created) == created
    assert store.update_status(created) == created
    assert store.resource_version() == 1


def test_missing_objects_are_not_found(store: SqliteStore) -> None:
    with pytest.raises(errors.NotFound, match="MLService default/nope not found"):
        store.get(key("nope"))
    with pytest.raises(errors.NotFound):
        store.replace(mlservice("nope"))
    with pytest.raises(errors.NotFound):
        store.delete(key("nope"))


def test_bad_resource_version_names_the_field(store: SqliteStore) -> None:
    store.create(mlservice("a"))
    bad = mlservice("a")
    bad["metadata"]["resourceVersion"] = "abc"
    with pytest.raises(errors.InvalidObject, match=r"metadata.resourceVersion 'abc'"):
        store.replace(bad)


def test_delete_returns_the_object_with_the_deletion_version(store: SqliteStore) -> None:
    created = store.create(mlservice("a"))
    deleted = store.delete(key("a"))
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    assert deleted["metadata"]["resourceVersion"] == "2"
    with pytest.raises(errors.NotFound):
        store.get(key("a"))


def test_list_by_namespace_and_across_namespaces(store: SqliteStore) -> None:
    for ns, name in [("b", "x"), ("a", "y"), ("a", "x")]:
        store.create(mlservice(name, namespace=ns))
    store.create({**mlservice("other"), "kind": "SimpleMLService"})
    in_a = store.list(Scope("tensorstack.dev", "MLService", "a"))
    assert [i["metadata"]["name"] for i in in_a.items] == ["x", "y"]
    everywhere = store.list(MLSVC)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere.items] == [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
    ]
    assert everywhere.resource_version == 4


def test_objects_and_versions_survive_reopening(db_path: Path) -> None:
    first = SqliteStore(db_path)
    created = first.create(mlservice("a"))
    updated = first.update_status({**created, "status": {"ready": True}})
    first.close()
    second = SqliteStore(db_path)
    try:
        assert second.get(key("a")) == updated
        assert second.create(mlservice("b"))["metadata"]["resourceVersion"] == "3"
    finally:
        second.close()


def test_concurrent_read_modify_write_loses_no_update(store: SqliteStore) -> None:
    created = store.create({**mlservice("a"), "spec": {"count": 0}})
    threads, increments = 4, 25

    def bump() -> None:
        for _ in range(increments):
            while True:
                current = store.get(key("a"))
                current["spec"]["count"] += 1
                try:
                    store.replace(current)
                    break
                except errors.Conflict:
                    continue

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    final = store.get(key("a"))
    assert final["spec"]["count"] == threads * increments
    assert final["metadata"]["generation"] == 1 + threads * increments
    assert int(final["metadata"]["resourceVersion"]) == 1 + threads * increments
    assert created["metadata"]["uid"] == final["metadata"]["uid"]
