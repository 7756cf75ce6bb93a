"""The web console in a real headless Chromium against a real `mls up`: the issue's
acceptance, end to end. Every page is screenshot at 1280x800 into the artifacts dir."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest
import yaml

from mlservice.cli.background import UpProcess
from tests.console.browser import artifacts, needs_browser
from tests.support.iris import iris_joblib
from tests.support.polling import wait_until
from tests.support.up import apply, mls_on

pytestmark = needs_browser()
NAMESPACE = "console"
ROW = [6.8, 2.8, 4.8, 1.4]


def canary_manifest(name: str) -> dict[str, Any]:
    def release(release: str) -> dict[str, Any]:
        model = {"runtime": "sklearn", "modelUri": f"pvc://{NAMESPACE}/{release}/"}
        return {"name": release, "predictor": {"model": model, "logger": {"mode": "all"}}}

    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": {
            "default": "v1",
            "canary": "v2",
            "canaryTrafficPercent": 20,
            "releases": [release("v1"), release("v2")],
        },
    }


@pytest.fixture(scope="module")
def iris(up: UpProcess) -> str:
    """A ready MLService `iris` in NAMESPACE: v1 default, v2 canary at 20 %, both logged."""
    for shift, release in enumerate(("v1", "v2")):
        folder = up.home.volume(NAMESPACE) / release
        folder.mkdir(parents=True)
        (folder / "model.joblib").write_bytes(iris_joblib(shift))
    apply(up, canary_manifest("iris"), NAMESPACE)
    with up.client() as client:

        def ready() -> bool:
            obj = client.get("mlservice", "iris", namespace=NAMESPACE)
            rows = obj.get("status", {}).get("releases", [])
            return len(rows) == 2 and all(r.get("ready") for r in rows)

        wait_until(ready, timeout=60)
    return "iris"


def ui_link(up: UpProcess) -> str:
    done = mls_on(up, "ui")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link == f"{up.api}/ui/#token={up.token}"
    return link


def log_in(page: Any, up: UpProcess) -> None:
    page.goto(ui_link(up))
    page.wait_for_selector("h1:has-text('Services')")
    assert "token" not in page.url  # dropped from the address bar at once


def service_page(page: Any, up: UpProcess, tab: str) -> None:
    page.goto(f"{up.api}/ui/#/s/mlservices/{NAMESPACE}/iris/{tab}")
    page.wait_for_selector(f".tabs a[aria-current='page'][href$='/{tab}']")


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifacts("console") / f"{name}.png"))


def predict(up: UpProcess, *, trace: str = "", service: str = "iris") -> httpx.Response:
    headers = {"host": f"{service}.{NAMESPACE}.localhost"}
    if trace:
        headers["traceparent"] = f"00-{trace}-{secrets.token_hex(8)}-01"
    return httpx.post(
        f"{up.endpoints['gateway']}/v1/models/{service}:predict",
        json={"instances": [ROW]},
        headers=headers,
        timeout=30,
    )


def test_without_the_cookie_or_token_data_is_refused_and_the_shell_asks_to_log_in(
    page: Any, up: UpProcess
) -> None:
    page.goto(f"{up.api}/ui/")
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#main").is_hidden()
    shoot(page, "login")
    for path in (
        f"/apis/tensorstack.dev/v1beta1/namespaces/{NAMESPACE}/mlservices",
        "/apis/tensorstack.dev/v1beta1/mlservices?watch=1",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        "/console/v1/session",
        f"/console/v1/metrics?namespace={NAMESPACE}&service=iris",
        f"/console/v1/requests?namespace={NAMESPACE}&service=iris",
    ):
        assert page.request.get(f"{up.api}{path}").status == 401, path
    # A page's own write with the session cookie but without the console header: refused.
    page.request.post(f"{up.api}/ui/session", data={"token": up.token})
    forged = page.request.post(
        f"{up.api}/apis/tensorstack.dev/v1beta1/namespaces/{NAMESPACE}/mlservices", data={}
    )
    assert forged.status == 403
    page.request.delete(f"{up.api}/ui/session")
    # A wrong token pasted into the prompt is refused; the right one lets the list in.
    page.goto(f"{up.api}/ui/")
    page.fill("#login-token", "wrong")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('does not match')")
    page.fill("#login-token", up.token)
    page.click("#login button[type=submit]")
    page.wait_for_selector("h1:has-text('Services')")


def test_the_list_shows_a_service_applied_by_the_cli_within_2s(page: Any, up: UpProcess) -> None:
    log_in(page, up)
    page.wait_for_selector("#live:has-text('live')")
    listed = canary_manifest("listed")
    listed["spec"]["paused"] = True  # no replicas: only the list matters here
    apply(up, listed, NAMESPACE)
    applied = time.monotonic()
    page.wait_for_selector(f"tr[data-key='mlservices/{NAMESPACE}/listed']", timeout=2000)
    assert time.monotonic() - applied < 2
    shoot(page, "services")
    assert up.token not in up.log()  # `mls up` prints the link only to a terminal
    # Promote, then delete, from the service's page: each one API call, confirmed first.
    page.click(f"tr[data-key='mlservices/{NAMESPACE}/listed'] a")
    page.click("#promote")
    page.click("#confirm-ok")
    page.wait_for_selector("#action-result:has-text('Done.')")
    got = json.loads(mls_on(up, "get", "mlservice", "listed", "-n", NAMESPACE, "-o", "json").stdout)
    assert got["spec"]["default"] == "v2"
    assert "canary" not in got["spec"]
    page.click("#delete")
    page.click("#confirm-ok")
    page.wait_for_selector("h1:has-text('Services')")
    page.wait_for_selector(f"tr[data-key='mlservices/{NAMESPACE}/listed']", state="detached")
    gone = mls_on(up, "get", "mlservice", "listed", "-n", NAMESPACE)
    assert gone.returncode != 0


def test_moving_the_canary_to_50_percent_in_the_ui_is_what_mls_get_reports(
    page: Any, up: UpProcess, iris: str
) -> None:
    log_in(page, up)
    service_page(page, up, "overview")
    page.wait_for_selector("#releases tr[data-release='v2']")
    shoot(page, "service-overview")
    page.fill("#canary-percent", "50")
    page.click("#set-canary")
    page.wait_for_selector("#confirm[open]")
    assert "canaryTrafficPercent" in page.inner_text("#confirm-call")
    shoot(page, "service-confirm")
    page.click("#confirm-ok")
    page.wait_for_selector("#action-result:has-text('Done.')")

    def reported() -> bool:
        got = json.loads(mls_on(up, "get", "mlservice", iris, "-n", NAMESPACE, "-o", "json").stdout)
        split = {r["name"]: r.get("trafficPercent") for r in got["status"].get("releases", [])}
        return got["spec"]["canaryTrafficPercent"] == 50 and split == {"v1": 50, "v2": 50}

    wait_until(reported, timeout=15)
    page.wait_for_selector("#releases tr[data-release='v2'] td.traffic:has-text('50 %')")


def test_traffic_raises_the_charts_request_count(page: Any, up: UpProcess, iris: str) -> None:
    log_in(page, up)
    service_page(page, up, "charts")
    page.wait_for_selector("#charts")

    # Locators, not page scripts: the console's CSP forbids evaluating strings.
    def total() -> int:
        totals = page.locator(".release-charts .total")
        return sum(
            int(totals.nth(i).get_attribute("data-total") or 0) for i in range(totals.count())
        )

    before = total()
    for _ in range(20):
        assert predict(up).status_code == 200
    wait_until(lambda: total() >= before + 20, timeout=10)
    assert page.locator(".release-charts svg polyline, .release-charts svg circle").count() > 0
    shoot(page, "service-charts")


def test_the_request_log_finds_a_request_by_its_id(page: Any, up: UpProcess, iris: str) -> None:
    trace = secrets.token_hex(16)
    assert predict(up, trace=trace).status_code == 200
    log_in(page, up)
    service_page(page, up, "requests")
    page.fill("#filter-id", trace)
    page.click("#filter-apply")
    found = page.locator("table.requests tbody button.link")
    # The gateway writes its log off the request path; the page refreshes every 5 s.
    wait_until(lambda: found.count() == 1, timeout=15)
    found.first.click()
    detail = page.locator("#request-detail")
    detail.locator("text=Response body").wait_for()
    assert trace in detail.inner_text()
    assert '"instances"' in detail.inner_text()
    assert '"predictions"' in detail.inner_text()
    shoot(page, "service-requests")


def test_a_bad_yaml_shows_the_servers_field_error(page: Any, up: UpProcess, iris: str) -> None:
    log_in(page, up)
    service_page(page, up, "yaml")
    text = page.locator("#yaml-text")
    text.wait_for()
    obj = yaml.safe_load(text.input_value())
    assert obj["metadata"]["name"] == iris
    assert "status" not in obj
    obj["spec"]["canaryTrafficPercent"] = 150
    text.fill(yaml.safe_dump(obj))
    page.click("#yaml-apply")
    field = page.locator("#yaml-errors code.field")
    field.first.wait_for()
    assert "spec.canaryTrafficPercent" in field.all_inner_texts()
    shoot(page, "service-yaml")
    text.fill("kind: MLService\nspec: [\n")
    page.click("#yaml-apply")
    page.wait_for_selector("#yaml-errors:has-text('Not valid YAML at line 3')")


def test_try_it_answers_with_the_release_and_replicas_show_their_log(
    page: Any, up: UpProcess, iris: str
) -> None:
    log_in(page, up)
    service_page(page, up, "try")
    page.select_option("#try-release", "v2")
    page.click("#try-send")
    page.wait_for_selector("#try-status:has-text('200')")
    assert page.inner_text("#try-release-answer") == "v2"
    assert "predictions" in page.inner_text("#try-answer")
    shoot(page, "service-try")
    page.select_option("#try-protocol", "file")
    body = json.dumps({"instances": [ROW]}).encode()
    page.set_input_files(
        "#try-file", files=[{"name": "row.json", "mimeType": "application/json", "buffer": body}]
    )
    page.click("#try-send")
    page.wait_for_selector("#try-answer:has-text('predictions')")
    service_page(page, up, "replicas")
    page.locator("table.replicas td:has-text(' MB')").first.wait_for()  # RSS from /proc
    page.locator("table.replicas tbody button").first.click()
    wait_until(lambda: page.locator("#log").inner_text().strip() != "", timeout=10)
    shoot(page, "service-replicas")


def test_an_inferenceservice_is_listed_with_its_components(
    page: Any, up: UpProcess, iris: str
) -> None:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "kiris"},
        "spec": {"predictor": {"sklearn": {"storageUri": f"pvc://{NAMESPACE}/v1"}}},
    }
    log_in(page, up)
    apply(up, isvc, NAMESPACE)
    page.click(f"tr[data-key='inferenceservices/{NAMESPACE}/kiris'] a")
    page.wait_for_selector("h1:has-text('kiris')")
    row = page.locator("#releases tr[data-release='predictor'] td.traffic")
    row.wait_for(timeout=30000)
    wait_until(lambda: "100 %" in row.inner_text(), timeout=30)
    assert page.locator("#canary-percent").is_visible()
    shoot(page, "inferenceservice-overview")


def test_the_overview_shows_the_shadows_agreement(page: Any, up: UpProcess, iris: str) -> None:
    # Its own service on iris' models: v1 answers, v2 is its shadow.
    manifest = canary_manifest("mirror")
    for field in ("canary", "canaryTrafficPercent"):
        del manifest["spec"][field]
    manifest["spec"]["shadow"] = {"release": "v2"}
    apply(up, manifest, NAMESPACE)
    with up.client() as client:

        def copied() -> dict[str, Any]:
            obj = client.get("mlservice", "mirror", namespace=NAMESPACE)
            found: dict[str, Any] = obj.get("status", {}).get("shadow") or {}
            return found

        wait_until(lambda: "revision" in copied(), timeout=60)
        for _ in range(20):
            assert predict(up, service="mirror").status_code == 200
        wait_until(lambda: copied().get("agree", 0) + copied().get("disagree", 0) >= 20, timeout=30)
        shadow = copied()
    log_in(page, up)
    page.goto(f"{up.api}/ui/#/s/mlservices/{NAMESPACE}/mirror/overview")
    compared = shadow["agree"] + shadow["disagree"]
    text = f"{shadow['agreement'] * 100:.1f} % ({shadow['agree']} of {compared})"
    page.wait_for_selector(f"#shadow-agreement:has-text('{text}')")
    assert page.locator("#releases tr[data-release='v2'] td").nth(1).inner_text() == "shadow"
    shoot(page, "service-shadow")
