"""Properties of any rendering: a Route's percents sum to 100, every object carries its owner
labels, and no Secret value appears anywhere but in the Secret itself."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlservice.controller.offline import render
from mlservice.engine.kube.meta import MANAGED_BY, MANAGER
from mlservice.naming import KIND_LABEL, SERVICE_LABEL

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
SECRET_VALUES = st.from_regex(r"[A-Za-z0-9]{12,24}", fullmatch=True)


@st.composite
def services(draw: st.DrawFn) -> dict[str, Any]:
    releases = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    default = draw(st.sampled_from(releases))
    others = [r for r in releases if r != default]
    canary = draw(st.sampled_from(others)) if others and draw(st.booleans()) else None
    spec: dict[str, Any] = {
        "default": default,
        "releases": [
            {
                "name": release,
                "predictor": {
                    "minReplicas": draw(st.integers(1, 3)),
                    "model": {
                        "modelFormat": {"name": draw(st.sampled_from(["sklearn", "onnx"]))},
                        "modelUri": draw(
                            st.sampled_from(
                                ["s3://models/iris/", "pvc://data/iris", "https://x.test/m.zip"]
                            )
                        ),
                    },
                    "storage": {"s3Storage": {"secretName": "creds"}},
                    **(
                        {"logger": {"urls": ["http://sink.test/"], "mode": "all"}}
                        if draw(st.booleans())
                        else {}
                    ),
                },
            }
            for release in releases
        ],
    }
    if canary is not None:
        spec["canary"] = canary
        spec["canaryTrafficPercent"] = draw(st.integers(0, 100))
    if draw(st.booleans()):
        spec["transformer"] = {
            "minReplicas": 1,
            "template": {"spec": {"containers": [{"name": "user-container", "image": "t:1"}]}},
        }
    name = draw(NAMES)
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": spec,
    }


def secret(access: str, key: str) -> dict[str, Any]:
    cfg = f"[default]\nhost_base = s3.test\naccess_key = {access}\nsecret_key = {key}\n"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "labels": {"tensorstack.dev/resource": "s3"}},
        "data": {".s3cfg": base64.b64encode(cfg.encode()).decode()},
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=services(),
    mode=st.sampled_from(["knative", "standard"]),
    access=SECRET_VALUES,
    key=SECRET_VALUES,
)
def test_any_mlservice_renders_with_the_three_properties(
    service: dict[str, Any], mode: str, access: str, key: str
) -> None:
    objects = render([service, secret(access, key)], mode=mode)  # type: ignore[arg-type]
    name = service["metadata"]["name"]
    blob = secret(access, key)["data"][".s3cfg"]
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels[MANAGED_BY] == MANAGER
        if obj["kind"] != "Secret":
            assert labels[KIND_LABEL] == "mlservice"
            assert labels[SERVICE_LABEL] == name
            text = json.dumps(obj)
            assert access not in text
            assert key not in text
            assert blob not in text
    for route in [o for o in objects if o["kind"] == "Route"]:
        assert sum(t["percent"] for t in route["spec"]["traffic"]) == 100
    for route in [o for o in objects if o["kind"] == "HTTPRoute"]:
        weights = [b.get("weight") for b in route["spec"]["rules"][0]["backendRefs"]]
        assert weights == [None] or sum(weights) == 100
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert len(secrets) == 1
    assert secrets[0]["data"] == secret(access, key)["data"]
