"""schemathesis against a real `mls up --api-only`: every operation of `/openapi.json`, with
the token, generated valid and invalid inputs, and not one server error (5xx).

Half of the cases address objects that exist (namespace and name "fuzz", made first), and
bodies take their namespace and name from the path, so replace, patch and status writes reach
validation and the store rather than a 404 or a mismatch; deletes run last. A fixed example
budget per operation (`EXAMPLES`) keeps the run within a minute on two cores. `watch` is
dropped from the query: a watch streams until its timeout, and its bounds have their own tests
(test_api_bounds.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from mlservice.cli.background import UpProcess
from mlservice.resources.kinds import KINDS, KindInfo
from tests.support.up import API_ONLY_ARGS, up_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Examples per operation, by method: writes carry the bodies worth generating, reads take only
# path and query parameters.
EXAMPLES = {"GET": 10, "POST": 60, "PUT": 30, "PATCH": 30, "DELETE": 15}
TARGET = "fuzz"  # the namespace and name of the objects the pinned cases address
_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}

RELEASE = {"name": "v1", "predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}
CONTAINER = {"name": "user-container", "image": "x"}
SPECS: dict[str, dict[str, Any]] = {
    "MLService": {"spec": {"default": "v1", "releases": [RELEASE]}},
    "SimpleMLService": {"spec": {"custom": {"spec": {"containers": [CONTAINER]}}}},
    "MLServiceRuntime": {"spec": {"template": {"spec": {"containers": [CONTAINER]}}}},
    "Secret": {"stringData": {"key": "value"}},
    "PersistentVolumeClaim": {"spec": {}},
    "ServiceAccount": {"secrets": [{"name": TARGET}]},
    "Event": {"involvedObject": {"kind": "MLService", "name": TARGET}, "reason": "Fuzzed"},
    "InferenceService": {"spec": {"predictor": {"sklearn": {"storageUri": "pvc://m/"}}}},
    "ServingRuntime": {"spec": {"containers": [CONTAINER]}},
    "ClusterServingRuntime": {"spec": {"containers": [CONTAINER]}},
    "TrainedModel": {
        "spec": {
            "inferenceService": TARGET,
            "model": {"storageUri": "pvc://m/", "framework": "sklearn", "memory": "1Mi"},
        }
    },
}


@pytest.fixture(scope="module")
def api_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    with up_process(tmp_path_factory.mktemp("fuzz"), args=API_ONLY_ARGS) as up:
        yield up


def test_no_operation_answers_a_server_error(api_up: UpProcess) -> None:
    """Every operation, valid and invalid inputs; failures are collected so one run names all
    the operations that answered 5xx."""
    auth = {"Authorization": f"Bearer {api_up.token}"}
    _create_targets(api_up.api, auth)
    # `/openapi.json` is open: loaded without the token, which each case then sends.
    schema = schemathesis.openapi.from_url(f"{api_up.api}/openapi.json", timeout=10)
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: _METHOD_ORDER.get(op.method.upper(), 0),
    )
    assert len(operations) > 60  # every kind's verbs were found in the schema
    failures: dict[str, str] = {}
    for operation in operations:
        try:
            _fuzz(operation, base_url=api_up.api, headers=auth)
        # schemathesis reports a FailureGroup, a BaseExceptionGroup; one operation's failure
        # must not hide the others'.
        except (Exception, BaseExceptionGroup) as err:
            failures[operation.label] = f"{type(err).__name__}: {err}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def _create_targets(base_url: str, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for kind in KINDS:
            body = {
                "apiVersion": kind.api_version,
                "kind": kind.kind,
                "metadata": {"name": TARGET},
                **SPECS[kind.kind],
            }
            scope = f"/namespaces/{TARGET}" if kind.namespaced else ""
            reply = client.post(f"{_prefix(kind)}{scope}/{kind.plural}", json=body)
            assert reply.status_code == 201, reply.text


def _prefix(kind: KindInfo) -> str:
    return f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"


def _fuzz(operation: Any, *, base_url: str, headers: dict[str, str]) -> None:
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    names = {p.name for p in operation.path_parameters}
    pinned = {k: TARGET for k in ("namespace", "name") if k in names}
    strategies = [operation.as_strategy(mode) for mode in modes]
    if pinned:
        strategies += [operation.as_strategy(mode, path_parameters=pinned) for mode in modes]

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES[operation.method.upper()],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case: Any) -> None:
        if case.query:
            case.query.pop("watch", None)  # streams until its timeout; tested on its own
        _agree_with_path(case)
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])

    check()


def _agree_with_path(case: Any) -> None:
    """Give a generated body the namespace and name of its path, so it gets past the (unit
    tested) rule that they agree and reaches validation and the store."""
    metadata = case.body.get("metadata") if isinstance(case.body, dict) else None
    if isinstance(metadata, dict):
        for key in ("namespace", "name"):
            if key in (case.path_parameters or {}):
                metadata[key] = case.path_parameters[key]
