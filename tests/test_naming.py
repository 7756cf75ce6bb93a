"""One module names hosts, revisions and labels: the design's names, built in one place."""

from __future__ import annotations

from mlservice.naming import (
    REVISION_HASH_LABEL,
    ComponentKey,
    Hosts,
    revision_labels,
    revision_name,
    sequence_of,
    transformer_key,
)


def test_host_names_follow_the_design() -> None:
    hosts = Hosts("d", 8080)
    assert Hosts("localhost").service("torch-mnist", "default") == "torch-mnist.default.localhost"
    assert hosts.predictor("m", "ns") == "m-predictor.ns.d"
    assert hosts.release("m", "ns", "v1") == "m-predict-v1.ns.d"
    assert hosts.transformer("m", "ns") == "m-transformer.ns.d"
    assert hosts.simple("m", "ns") == "m.ns.svc.d"
    assert hosts.service("M", "NS") == "m.ns.d"  # the gateway compares lower-case


def test_urls_leave_out_port_80() -> None:
    assert Hosts("d", 80).url("a.ns.d") == "http://a.ns.d"
    assert Hosts("d", 8080).url("a.ns.d") == "http://a.ns.d:8080"


def test_revision_names_per_component() -> None:
    assert revision_name("iris", ComponentKey("predict", "v1"), 1) == "iris-predict-v1-00001"
    assert revision_name("iris", transformer_key(), 12) == "iris-transform-00012"
    simple = ComponentKey("predict", token="simple")
    assert revision_name("iris", simple, 3) == "iris-simple-00003"
    assert sequence_of("iris-predict-v1-00042") == 42
    assert sequence_of("no-sequence") == 0


def test_revision_labels_name_the_owner_and_release() -> None:
    labels = revision_labels(
        kind="MLService",
        service="iris",
        key=ComponentKey("predict", "v1"),
        revision="iris-predict-v1-00001",
        hash_="abc",
    )
    assert labels["serving.mlservice.dev/service"] == "iris"
    assert labels["serving.mlservice.dev/release"] == "v1"
    assert labels[REVISION_HASH_LABEL] == "abc"
    without = revision_labels(
        kind="MLService", service="iris", key=transformer_key(), revision="r", hash_="h"
    )
    assert "serving.mlservice.dev/release" not in without
    assert all(key.startswith("serving.mlservice.dev/") for key in labels)
