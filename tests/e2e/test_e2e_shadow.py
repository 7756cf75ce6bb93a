"""Issue 21's shadow acceptance against a real `mls up`: two real sklearn models, the second a
shadow of the first. Its answers never reach the client, and the gateway's agreement count
equals the one this test makes by asking each release itself."""

from __future__ import annotations

import io

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlservice.cli.background import UpProcess
from tests.gateway.e2e_gateway import gateway, mlservice, release, wait_ready
from tests.support.iris import iris_joblib
from tests.support.polling import wait_until
from tests.support.up import apply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _coarse_iris() -> bytes:
    """An iris model that sees only the sepals: it disagrees with `iris_joblib()` on some rows."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    model = LogisticRegression(max_iter=500).fit(features[:, :2], labels)
    # Served rows have four features: a pipeline would add nothing but a dependency, so the
    # coefficients of the petals are zero instead.
    full = LogisticRegression(max_iter=500).fit(features, labels)
    full.coef_[:, :2], full.coef_[:, 2:], full.intercept_ = model.coef_, 0.0, model.intercept_
    joblib.dump(full, buffer)
    return buffer.getvalue()


def _agreement(up: UpProcess, revision_prefix: str) -> dict[str, float]:
    text = httpx.get(f"{up.endpoints['gateway_admin']}/metrics", timeout=10).text
    return {
        s.labels["result"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mls_gateway_shadow_agreement_total"
        and s.labels["revision"].startswith(revision_prefix)
    }


def test_a_shadow_answers_nobody_and_its_agreement_is_counted(
    up: UpProcess, namespace: str
) -> None:
    for folder, model in (("fine", iris_joblib()), ("coarse", _coarse_iris())):
        path = up.home.volume(namespace) / folder
        path.mkdir(parents=True)
        (path / "model.joblib").write_bytes(model)
    manifest = mlservice(
        "iris",
        release("v1", f"pvc://{namespace}/fine/"),
        release("v2", f"pvc://{namespace}/coarse/"),
        shadow={"release": "v2", "percent": 100},
    )
    apply(up, manifest, namespace)
    wait_ready(up, "iris", namespace)
    from sklearn.datasets import load_iris

    rows = load_iris().data[::3].tolist()  # 50 rows

    def ask(client: httpx.Client, host: str, row: list[float]) -> httpx.Response:
        body = {"instances": [row]}
        answer = client.post("/v1/models/iris:predict", json=body, headers={"host": host})
        assert answer.status_code == 200, answer.text
        return answer

    with gateway(up, timeout=30) as client:
        own = {
            name: [
                ask(client, f"iris-predict-{name}.{namespace}.localhost", row).json()
                for row in rows
            ]
            for name in ("v1", "v2")
        }
        agree = sum(a == b for a, b in zip(own["v1"], own["v2"], strict=True))
        assert 0 < agree < len(rows)  # the two models differ on some rows, not all
        for row, expected in zip(rows, own["v1"], strict=True):
            answer = ask(client, f"iris.{namespace}.localhost", row)
            assert answer.json() == expected  # v1's answer, never the shadow's
            assert answer.headers["x-mls-release"] == "v1"

    prefix = f"{namespace}/iris-predict-v2-"

    def judged() -> dict[str, float] | None:
        got = _agreement(up, prefix)
        return got if sum(got.values()) >= len(rows) else None

    got = wait_until(judged, timeout=20, interval=0.2, message="the shadow copies to be judged")
    assert got == {"agree": agree, "disagree": len(rows) - agree, "incomparable": 0}

    # The same counts reach the control plane and the MLService's status.shadow (per 10 s).
    def in_status() -> dict[str, object] | None:
        with up.client() as api:
            shadow = (api.get("mlservice", "iris", namespace=namespace).get("status") or {}).get(
                "shadow"
            ) or {}
        return shadow if shadow.get("agree", 0) + shadow.get("disagree", 0) >= len(rows) else None

    shadow = wait_until(in_status, timeout=30, interval=0.5, message="status.shadow")
    assert (shadow["sent"], shadow["agree"], shadow["disagree"]) == (
        len(rows),
        agree,
        len(rows) - agree,
    )
    assert shadow["agreement"] == round(agree / len(rows), 4)
    assert shadow["revision"] == "iris-predict-v2-00001"
