"""The control-plane API under hostile input (issue 12): nesting depth, integer bounds,
resourceVersions out of range, and claim names that would leave the volumes folder.

The app runs in-process with `raise_errors`: an exception escaping it fails the test, as it
would reach the server's log with its traceback."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlservice.controller import replica_count
from mlservice.errors import InvalidObject, ResourceVersionTooLarge
from mlservice.resources import validate_object
from mlservice.resources.limits import MAX_DEPTH, MAX_REPLICAS
from mlservice.store import Scope
from mlservice.store.sqlite import SqliteStore
from tests.api.app_client import BASE, MLSVCS, AppClient, app_client, mlservice

HUGE = 2**70
SECRETS = "/api/v1/namespaces/default/secrets"
RUNTIMES = f"{BASE}/namespaces/default/mlserviceruntimes"
SIMPLES = f"{BASE}/namespaces/default/simplemlservices"
MERGE = {"Content-Type": "application/merge-patch+json"}

Manifest = dict[str, Any]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore.in_memory()
    yield opened
    opened.close()


@pytest.fixture
def api(tmp_path: Path, store: SqliteStore) -> Iterator[AppClient]:
    client = app_client(tmp_path, store, "t0k", raise_errors=True)
    yield client
    client.close()


def nested(depth: int) -> str:
    """JSON text of `depth` objects inside each other."""
    return '{"a":' * depth + "1" + "}" * depth


def with_raw(manifest: Manifest, marker: str, raw: str) -> str:
    """`manifest` as JSON with the string `marker` replaced by the JSON text `raw`."""
    return json.dumps(manifest).replace(json.dumps(marker), raw)


def predictor(m: Manifest) -> Any:
    return m["spec"]["releases"][0]["predictor"]


def secret(name: str = "s") -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}


# -- F10: depth -----------------------------------------------------------------------------


def test_f10_depth_500_inside_a_podspec_field_is_a_400_naming_the_path(api: AppClient) -> None:
    """F10: 500 levels in `affinity` was a RecursionError in a deep copy and a 500."""
    manifest = mlservice("deep")
    predictor(manifest)["template"] = {"spec": {"affinity": "DEEP"}}
    reply = api.post(MLSVCS, content=with_raw(manifest, "DEEP", nested(500)))
    assert reply.status_code == 400
    status = reply.json()
    assert status["kind"] == "Status"
    assert f"nested deeper than {MAX_DEPTH} levels" in status["message"]
    assert "(at spec.releases[0].predictor.template.spec.affinity.a.a" in status["message"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("PUT", f"{MLSVCS}/a", "application/json"),
        ("PUT", f"{MLSVCS}/a/status", "application/json"),
        ("PATCH", f"{MLSVCS}/a", "application/merge-patch+json"),
        ("PATCH", f"{MLSVCS}/a", "application/json-patch+json"),
        ("PATCH", f"{SECRETS}/s", "application/strategic-merge-patch+json"),
        ("DELETE", f"{MLSVCS}/a", "application/json"),
    ],
)
def test_f10_every_body_is_depth_checked_before_anything_else(
    api: AppClient, method: str, path: str, content_type: str, depth: int
) -> None:
    """F10: updates, patches of every content type and delete options are bounded too; past
    what the JSON parser itself can nest, still a 400."""
    api.post(MLSVCS, json=mlservice("a"))
    api.post(SECRETS, json=secret())
    body = '{"metadata": {"labels": ' + nested(depth) + "}}"
    reply = api.request(method, path, content=body, headers={"Content-Type": content_type})
    assert reply.status_code == 400, reply.text
    assert f"nested deeper than {MAX_DEPTH} levels" in reply.json()["message"]


def test_f10_depth_at_the_limit_is_not_refused_for_its_depth(api: AppClient) -> None:
    """F10: the bound is exactly MAX_DEPTH levels (validation then judges the content)."""
    manifest = mlservice("deep")
    predictor(manifest)["model"]["parameters"] = {"p": "DEEP"}
    # The value sits at depth 7 (manifest, spec, releases, release, predictor, model, params).
    inside = MAX_DEPTH - 7
    reply = api.post(MLSVCS, content=with_raw(manifest, "DEEP", nested(inside)))
    assert reply.status_code == 201, reply.text
    too_deep = api.put(f"{MLSVCS}/deep", content=with_raw(manifest, "DEEP", nested(inside + 1)))
    assert too_deep.status_code == 400


def test_f10_non_json_numbers_are_refused(api: AppClient) -> None:
    """F10: NaN, Infinity and 1e400 were accepted, stored, and then every read of the object
    failed with a 500 (no JSON reply can carry them)."""
    for raw in ("NaN", "Infinity", "-Infinity", "1e400"):
        manifest = mlservice("nan")
        predictor(manifest)["template"] = {"spec": {"terminationGracePeriodSeconds": "N"}}
        reply = api.post(MLSVCS, content=with_raw(manifest, "N", raw))
        assert reply.status_code == 400, raw
        assert reply.json()["message"].startswith("The request body is not valid JSON")
    assert api.get(MLSVCS).status_code == 200


def test_f10_an_unexpected_failure_logs_one_line_without_the_body(
    api: AppClient, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """F10: a crash re-raised to the server logged a full traceback (3,000 lines for a
    RecursionError) with the exception's message; now one line, type and place only."""
    store.close()  # every query now fails inside sqlite3
    body = secret()
    body["stringData"] = {"password": "hunter2-marker"}
    with caplog.at_level(logging.DEBUG):
        reply = api.post(SECRETS, json=body)
    assert reply.status_code == 500
    assert reply.json()["message"] == "Internal error; the mls up log has the details."
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert errors[0].exc_info is None
    assert "\n" not in line
    assert line.startswith(f"POST {SECRETS} failed: ProgrammingError at ")
    assert "hunter2" not in caplog.text


# -- F11: resourceVersion and integer query parameters ---------------------------------------


@pytest.mark.parametrize(
    "version", ["99999999999999999999999", "9223372036854775808", "-1", "1.5", " 1", "+1", "x"]
)
@pytest.mark.parametrize("watch", ["1", "false"])
def test_f11_an_unparsable_or_out_of_range_resource_version_is_a_400(
    api: AppClient, version: str, watch: str
) -> None:
    """F11: `?watch=1&resourceVersion=99999999999999999999999` was an OverflowError from
    SQLite and a 500; Kubernetes answers 400 for a version it cannot parse."""
    reply = api.get(MLSVCS, params={"watch": watch, "resourceVersion": version})
    assert reply.status_code == 400
    assert reply.json()["reason"] == "BadRequest"
    assert reply.json()["message"].startswith("Invalid resourceVersion")


def test_f11_a_version_newer_than_the_store_is_one_error_event_and_the_end(
    api: AppClient,
) -> None:
    """F11: a watch from a version the store has not reached waited for events that would
    never replay; now one ERROR event (Kubernetes' "Too large resource version") ends it."""
    api.post(MLSVCS, json=mlservice("a"))
    started = time.monotonic()
    reply = api.get(
        MLSVCS, params={"watch": "1", "resourceVersion": "9223372036854775807", "timeoutSeconds": 5}
    )
    assert time.monotonic() - started < 4  # generous: the old code waited the whole timeout
    events = [json.loads(line) for line in reply.text.splitlines()]
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["code"], status["reason"]) == (504, "Timeout")
    assert status["message"].startswith("Too large resource version: 9223372036854775807")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_f11_the_store_refuses_a_future_version_before_any_query(store: SqliteStore) -> None:
    """F11: the store itself never hands SQLite a number past its counter."""
    with pytest.raises(ResourceVersionTooLarge):
        store.watch(Scope("tensorstack.dev", "MLService"), since=HUGE)


def test_f11_integer_query_parameters_and_versions_in_bodies_are_bounded(
    api: AppClient,
) -> None:
    """F11: timeoutSeconds past int64 is a 400 naming it; versions in delete preconditions and
    in metadata are parsed the same way as the query's."""
    reply = api.get(MLSVCS, params={"watch": "1", "timeoutSeconds": str(HUGE)})
    assert reply.status_code == 400
    assert reply.json()["details"]["causes"][0]["field"] == "timeoutSeconds"
    assert api.get(MLSVCS, params={"limit": str(HUGE)}).status_code == 200  # not read
    api.post(MLSVCS, json=mlservice("a"))
    precondition = {"preconditions": {"resourceVersion": str(HUGE)}}
    reply = api.request("DELETE", f"{MLSVCS}/a", json=precondition)
    assert reply.status_code == 400
    assert "preconditions.resourceVersion" in reply.json()["message"]
    for options in ([1], {"preconditions": "x"}):
        assert api.request("DELETE", f"{MLSVCS}/a", json=options).status_code == 400
    pinned = mlservice("a")
    pinned["metadata"]["resourceVersion"] = str(HUGE)
    assert api.put(f"{MLSVCS}/a", json=pinned).status_code == 422
    odd_patch = api.patch(f"{MLSVCS}/a", content='{"metadata": "x"}', headers=MERGE)
    assert odd_patch.status_code == 422


# -- W1: integer bounds ---------------------------------------------------------------------


def simple() -> Manifest:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "SimpleMLService",
        "metadata": {"name": "sample"},
        "spec": {"custom": {"spec": {"containers": [{"name": "server", "image": "x"}]}}},
    }


def runtime() -> Manifest:
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLServiceRuntime",
        "metadata": {"name": "rt"},
        "spec": {
            "supportedModelFormats": [{"name": "pytorch"}],
            "template": {"spec": {"containers": [{"name": "user-container"}]}},
        },
    }


def with_transformer(m: Manifest) -> Manifest:
    m["spec"]["transformer"] = {"template": {"spec": {"containers": [{"name": "t"}]}}}
    return m


def user_container(m: Manifest) -> Any:
    return m["spec"]["template"]["spec"]["containers"][0]


P0 = "spec.releases[0].predictor"
UC = "spec.template.spec.containers[0]"
# (base, where to set the value, the field path the error must name)
INTEGER_FIELDS: list[tuple[Callable[[], Manifest], Callable[[Manifest], Any], str, str]] = [
    (lambda: mlservice("a"), predictor, "minReplicas", f"{P0}.minReplicas"),
    (lambda: mlservice("a"), predictor, "maxReplicas", f"{P0}.maxReplicas"),
    (lambda: mlservice("a"), predictor, "containerConcurrency", f"{P0}.containerConcurrency"),
    (lambda: mlservice("a"), predictor, "timeoutSeconds", f"{P0}.timeoutSeconds"),
    (
        lambda: with_transformer(mlservice("a")),
        lambda m: m["spec"]["transformer"],
        "minReplicas",
        "spec.transformer.minReplicas",
    ),
    (
        lambda: with_transformer(mlservice("a")),
        lambda m: m["spec"]["transformer"],
        "maxReplicas",
        "spec.transformer.maxReplicas",
    ),
    (simple, lambda m: m["spec"], "replicas", "spec.replicas"),
    (runtime, lambda m: m["spec"]["supportedModelFormats"][0], "priority", ""),
    (
        runtime,
        lambda m: user_container(m).setdefault("ports", [{}])[0],
        "containerPort",
        f"{UC}.ports[0].containerPort",
    ),
    (
        runtime,
        lambda m: user_container(m).setdefault("readinessProbe", {"tcpSocket": {"port": 1}}),
        "periodSeconds",
        f"{UC}.readinessProbe.periodSeconds",
    ),
    (
        runtime,
        lambda m: user_container(m).setdefault("livenessProbe", {"tcpSocket": {"port": 1}}),
        "failureThreshold",
        f"{UC}.livenessProbe.failureThreshold",
    ),
    (
        runtime,
        lambda m: user_container(m).setdefault("startupProbe", {"tcpSocket": {"port": 1}}),
        "initialDelaySeconds",
        f"{UC}.startupProbe.initialDelaySeconds",
    ),
    # Passthrough fields: kept as written, but still 64-bit integers.
    (
        runtime,
        lambda m: m["spec"]["template"]["spec"],
        "terminationGracePeriodSeconds",
        "spec.template.spec.terminationGracePeriodSeconds",
    ),
    (
        lambda: mlservice("a"),
        lambda m: predictor(m)["model"].setdefault("parameters", {}),
        "batch",
        f"{P0}.model.parameters.batch",
    ),
]


@pytest.mark.parametrize(
    ("base", "where", "key", "field"),
    INTEGER_FIELDS,
    ids=[f[3] or f"{f[2]}" for f in INTEGER_FIELDS],
)
def test_w1_every_integer_field_is_bounded_and_named(
    base: Callable[[], Manifest], where: Callable[[Manifest], Any], key: str, field: str
) -> None:
    """W1: `minReplicas: 2^70` was accepted and stored; every integer of our kinds now has a
    bound, and a number past int64 anywhere is refused naming its path."""
    manifest = base()
    where(manifest)[key] = HUGE
    with pytest.raises(InvalidObject) as caught:
        validate_object(manifest)
    fields = [c.field for c in caught.value.causes]
    expected = field or "spec.supportedModelFormats[0].priority"
    assert fields == [expected]
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("minReplicas", MAX_REPLICAS + 1),
        ("maxReplicas", MAX_REPLICAS + 1),
        ("containerConcurrency", 1001),
        ("timeoutSeconds", 3601),
        ("timeoutSeconds", 0),
    ],
)
def test_w1_typed_fields_have_sane_bounds(key: str, value: int) -> None:
    """W1: a typed field's bound is well inside int64 and its message says the limit."""
    manifest = mlservice("a")
    predictor(manifest)[key] = value
    with pytest.raises(InvalidObject) as caught:
        validate_object(manifest)
    assert [c.field for c in caught.value.causes] == [f"{P0}.{key}"]
    assert "Input should be" in caught.value.causes[0].message


def test_w1_is_refused_at_apply_and_in_status_writes(api: AppClient) -> None:
    """W1: through the API the refusal is a 422 Status whose causes name the field; status
    writes (not validated by kind) still refuse numbers past int64."""
    manifest = mlservice("big")
    predictor(manifest)["minReplicas"] = HUGE
    reply = api.post(MLSVCS, json=manifest)
    assert reply.status_code == 422
    assert [c["field"] for c in reply.json()["details"]["causes"]] == [f"{P0}.minReplicas"]
    api.post(MLSVCS, json=mlservice("a"))
    status = {"status": {"releases": [{"readyReplicas": HUGE}]}}
    reply = api.patch(f"{MLSVCS}/a/status", content=json.dumps(status), headers=MERGE)
    assert reply.status_code == 422
    assert reply.json()["details"]["causes"][0]["field"] == "status.releases[0].readyReplicas"
    assert api.put(f"{MLSVCS}/a/status", json={**mlservice("a"), "status": 5}).status_code == 422


@pytest.mark.parametrize(
    ("wanted", "low", "high"),
    [(HUGE, 0, None), (None, HUGE, None), (HUGE, HUGE, HUGE), (10**6, 1, 0)],
)
def test_w1_no_replica_count_past_the_ceiling_reaches_the_engine(
    wanted: int | None, low: int, high: int | None
) -> None:
    """W1's hang: the local engine starts the replicas it is asked for in one synchronous
    loop on the event loop the API shares, so 2^70 never let the API answer again. An object
    stored before the bounds, or an autoscaler's wish with no maxReplicas, is clamped."""
    count = replica_count(wanted=wanted, min_replicas=low, max_replicas=high, cap=None)
    assert count == MAX_REPLICAS


# -- F5: claim names and subPaths -----------------------------------------------------------


def volume_pod(claim: str, sub_path: str = "model") -> Manifest:
    return {
        "containers": [
            {
                "name": "user-container",
                "volumeMounts": [{"name": "v", "mountPath": "/mnt/v", "subPath": sub_path}],
            }
        ],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}],
    }


def in_release(pod: Manifest) -> Manifest:
    m = mlservice("a")
    pod["containers"][0].pop("ports", None)
    predictor(m)["template"] = {"spec": pod}
    return m


def in_transformer(pod: Manifest) -> Manifest:
    m = mlservice("a")
    m["spec"]["transformer"] = {"template": {"spec": pod}}
    return m


def in_runtime(pod: Manifest) -> Manifest:
    m = runtime()
    m["spec"]["template"]["spec"] = pod
    return m


def in_simple(pod: Manifest) -> Manifest:
    m = simple()
    m["spec"]["custom"]["spec"] = pod
    return m


PODS = [
    (in_release, f"{P0}.template.spec"),
    (in_transformer, "spec.transformer.template.spec"),
    (in_runtime, "spec.template.spec"),
    (in_simple, "spec.custom.spec"),
]


@pytest.mark.parametrize("claim", ["../../../../etc", "/etc", "a/b", "..", "vol/../x"])
@pytest.mark.parametrize(("place", "pod_path"), PODS, ids=[p[1] for p in PODS])
def test_f5_a_claim_name_must_be_an_object_name(
    place: Callable[[Manifest], Manifest], pod_path: str, claim: str
) -> None:
    """F5: `claimName: ../../../../etc` (or `/etc`) in a release template mounted /etc; in
    every PodSpec a claim name is a DNS-1123 subdomain, refused at apply naming the field."""
    with pytest.raises(InvalidObject) as caught:
        validate_object(place(volume_pod(claim)))
    assert [c.field for c in caught.value.causes] == [
        f"{pod_path}.volumes[0].persistentVolumeClaim.claimName"
    ]


@pytest.mark.parametrize("sub_path", ["../x", "a/../../b", "/abs", "a\0b"])
@pytest.mark.parametrize(("place", "pod_path"), PODS, ids=[p[1] for p in PODS])
def test_f5_a_volume_mount_sub_path_stays_inside_its_volume(
    place: Callable[[Manifest], Manifest], pod_path: str, sub_path: str
) -> None:
    """F5: a volumeMount's subPath is relative and has no `..` in every PodSpec (this held
    already; the NUL is new); a symlink inside the volume is the engine's to refuse."""
    with pytest.raises(InvalidObject) as caught:
        validate_object(place(volume_pod("data", sub_path)))
    assert [c.field for c in caught.value.causes] == [
        f"{pod_path}.containers[0].volumeMounts[0].subPath"
    ]


def test_f5_a_good_claim_and_sub_path_are_kept(api: AppClient) -> None:
    """F5: the bounds refuse only escapes: a dotted claim name and a nested subPath pass."""
    for place, _ in PODS:
        validate_object(place(volume_pod("models.v2", "a/b/c")))
    manifest = in_release(volume_pod("/etc"))
    reply = api.post(MLSVCS, json=copy.deepcopy(manifest))
    assert reply.status_code == 422
    assert reply.json()["details"]["causes"][0]["field"].endswith("claimName")


# -- found by schemathesis (test_api_fuzz.py) ------------------------------------------------


def test_secret_data_that_is_not_ascii_is_a_422_naming_the_key(api: AppClient) -> None:
    """schemathesis: base64 of a non-ASCII string raised ValueError (not binascii.Error), a
    500 on create."""
    body = secret()
    body["data"] = {"token": "ü\x00礴"}
    reply = api.post(SECRETS, json=body)
    assert reply.status_code == 422
    causes = reply.json()["details"]["causes"]
    assert [(c["field"], c["message"]) for c in causes] == [
        ("data[token]", "value is not valid base64")
    ]
