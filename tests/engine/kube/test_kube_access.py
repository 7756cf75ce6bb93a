"""The operator's RBAC: what `mls kube install` grants is what the operator watches and
writes (its kopf registry's kinds), for its mode, and what docs/operator.md lists."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mlservice.engine.kube.access import CHILDREN, MODES, Mode, permissions_table, rules
from mlservice.engine.kube.install import install_objects
from mlservice.engine.kube.operator.handlers import Kinds
from mlservice.engine.kube.operator.wiring import Settings
from tests.support.paths import REPO

COMBINATIONS = list(itertools.product(MODES, (False, True)))


def _granted(found: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in found:
        for group, resource in itertools.product(rule["apiGroups"], rule["resources"]):
            out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_the_docs_list_exactly_the_rules_in_the_code() -> None:
    text = (REPO / "docs" / "operator.md").read_text()
    assert permissions_table() in text, f"docs/operator.md should hold:\n{permissions_table()}"


@pytest.mark.parametrize(("mode", "kserve"), COMBINATIONS)
def test_install_grants_what_the_operator_calls_and_nothing_else(mode: Mode, kserve: bool) -> None:
    objects = install_objects(mode=mode, kserve_kinds=kserve)
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    assert role["rules"] == rules(mode=mode, kserve_kinds=kserve)
    granted = _granted(role["rules"])

    kinds = Kinds.of(Settings(mode=mode, kserve_kinds=kserve))
    wanted: dict[tuple[str, str], set[str]] = {}
    for r in (*kinds.parents, *kinds.runtimes, *kinds.children):
        wanted[(r.group, r.plural)] = {"get", "list", "watch"}  # kopf's watch, our reads
    for r in kinds.parents:
        wanted[(r.group, r.plural)].add("patch")  # kopf's state annotations
        wanted[(r.group, f"{r.plural}/status")] = {"patch"}
    for r in CHILDREN[mode]:
        wanted[(r.group, r.plural)] |= {"create", "patch"}  # server-side apply, or create
    wanted[("", "events")] = {"create"}
    wanted[("apiextensions.k8s.io", "customresourcedefinitions")] = {"list", "watch"}
    assert granted == wanted


def test_kserve_kinds_and_other_modes_are_not_granted() -> None:
    knative = _granted(rules(mode="knative", kserve_kinds=False))
    standard = _granted(rules(mode="standard", kserve_kinds=False))
    assert not any(group == "serving.kserve.io" for group, _ in {*knative, *standard})
    assert ("serving.knative.dev", "revisions") in knative
    assert not any(group == "serving.knative.dev" for group, _ in standard)
    assert ("autoscaling", "horizontalpodautoscalers") not in knative
    every = {
        verb
        for mode, kserve in COMBINATIONS
        for rule in rules(mode=mode, kserve_kinds=kserve)
        for verb in rule["verbs"]
    }
    assert every.isdisjoint({"update", "delete", "deletecollection", "*"})
