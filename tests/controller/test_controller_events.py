"""Events about cluster-scoped objects: recorded in `default`, no namespace in the reference."""

from __future__ import annotations

from mlservice.controller.events import EventRecorder, Involved
from mlservice.store import Scope
from mlservice.store.sqlite import SqliteStore


def test_cluster_scoped_object_events_live_in_default() -> None:
    store = SqliteStore.in_memory()
    runtime = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "metadata": {"name": "kserve-sklearnserver", "uid": "u1"},
    }
    involved = Involved.of(runtime)
    assert involved.namespace == ""
    recorder = EventRecorder(store)
    recorder.warning(involved, "Broken", "it broke")
    recorder.warning(involved, "Broken", "it broke")
    [event] = store.list(Scope("", "Event", "default")).items
    assert event["count"] == 2
    assert event["involvedObject"] == {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ClusterServingRuntime",
        "name": "kserve-sklearnserver",
        "uid": "u1",
    }
    assert recorder.events_of(involved) == [event]
    recorder.forget(involved)
    assert store.list(Scope("", "Event", "default")).items == []
    store.close()


def test_namespaced_reference_keeps_its_namespace() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}
    assert Involved.of(obj).reference() == {
        "apiVersion": "v1",
        "kind": "Secret",
        "namespace": "ns",
        "name": "s",
    }
