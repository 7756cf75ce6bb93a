"""One parent's reconciliation: render, adopt, apply what changed, write status back.

Each child carries an annotation with the hash of what was rendered for it, so a reconcile
that renders the same object again (a resume, a runtime change that does not touch this
service) writes nothing and posts no Event. Fields a mode renders as nothing (spec.analysis,
a shadow in knative mode) are a Warning event `NotRendered` each, once per spec. A render
error is the parent's state, not a failure of the operator: it becomes `Ready` False with the
error's reason and message and is tried again only when the input changes; an API error is
retried with kopf's backoff.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import kopf

from mlservice.engine.kube.operator.api import Api, ApiFailure
from mlservice.engine.kube.operator.observe import Problem, observe
from mlservice.engine.kube.operator.wiring import Body, Wiring
from mlservice.errors import InvalidInput
from mlservice.naming import LABEL_PREFIX

APPLIED: Final = LABEL_PREFIX + "applied-hash"
RETRY_DELAY: Final = 10.0  # kopf's backoff for API errors, seconds

Indices = Mapping[str, Any]  # kopf's handler kwargs: every index by its id
Lookup = Callable[[Body, Indices], list[Body]]


class Reconciler:
    """Thread-safe: kopf runs sync handlers in a pool, one object at a time but several
    objects at once, and children of one parent report concurrently."""

    def __init__(
        self,
        *,
        api: Api,
        wiring: Wiring,
        children_of: Lookup,
        runtimes_for: Lookup,
    ) -> None:
        self._api = api
        self._wiring = wiring
        self._children_of = children_of
        self._runtimes_for = runtimes_for
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        # Why a parent's current spec cannot be rendered, by uid, with that spec's digest:
        # its children's events must not paper over it until the input changes.
        self._failed: dict[str, tuple[str, Problem]] = {}
        # The spec digest whose unrendered fields were last warned about, by uid.
        self._warned: dict[str, str] = {}

    def reconcile(self, parent: Body, indices: Indices) -> None:
        """Render the parent's children, apply the changed ones, then write its status."""
        uid, spec = _uid(parent), _digest(parent.get("spec") or {})
        runtimes = self._runtimes_for(parent, indices)
        try:
            desired = self._wiring.render(parent, runtimes=runtimes)
        except InvalidInput as err:
            problem = Problem(err.spec_reason, err.message)
            with self._guard:
                self._failed[uid] = (spec, problem)
            kopf.warn(_body(parent), reason=problem.reason, message=problem.message)
            self.refresh(parent, indices)
            return
        with self._guard:
            self._failed.pop(uid, None)
            warn = self._warned.get(uid) != spec
            self._warned[uid] = spec
        if warn:  # once per spec: a reconcile for a child's sake repeats nothing
            for message in self._wiring.unrendered(parent, runtimes=runtimes):
                kopf.warn(_body(parent), reason="NotRendered", message=message)
        current = {_ref(child): child for child in self._children_of(parent, indices)}
        kopf.adopt(desired, owner=_body(parent))
        for child in desired:
            digest = _digest(child)
            child["metadata"].setdefault("annotations", {})[APPLIED] = digest
            old = current.get(_ref(child))
            if old is not None and _annotations(old).get(APPLIED) == digest:
                continue
            what = f"{child['kind']} {child['metadata']['name']}"
            try:
                self._api.apply(child)
            except ApiFailure as failure:
                raise kopf.TemporaryError(f"{what}: {failure}", delay=RETRY_DELAY) from failure
            reason = "Created" if old is None else "Updated"
            kopf.info(_body(parent), reason=reason, message=what)
        self.refresh(parent, indices)

    def repair(self, parent: Body, indices: Indices) -> None:
        """Reconcile the parent as the API server holds it now, unless it is gone or going
        (its children are then being collected, not lost)."""
        try:
            fresh = self._api.get(parent)
        except ApiFailure as failure:
            if failure.status == 404:
                return
            raise kopf.TemporaryError(f"read: {failure}", delay=RETRY_DELAY) from failure
        if not (fresh.get("metadata") or {}).get("deletionTimestamp"):
            self.reconcile(fresh, indices)

    def refresh(self, parent: Body, indices: Indices) -> None:
        """Write the parent's status from what its children report now (or from why it
        cannot be rendered). One parent at a time, read fresh: whoever writes last has read
        the newest children, and a stale copy of the parent never hides a needed write."""
        with self._lock(_uid(parent)):
            try:
                fresh = self._api.get(parent)
            except ApiFailure as failure:
                if failure.status == 404:
                    return  # the parent is gone; its children go with it
                raise kopf.TemporaryError(f"read: {failure}", delay=RETRY_DELAY) from failure
            with self._guard:
                spec, problem = self._failed.get(_uid(fresh), ("", None))
            failed = problem is not None and spec == _digest(fresh.get("spec") or {})
            seen = problem if failed and problem else observe(self._children_of(fresh, indices))
            status = self._wiring.status(fresh, seen)
            previous = fresh.get("status") or {}
            if status == previous:
                return
            try:
                self._api.patch_status(fresh, merge_patch(previous, status))
            except ApiFailure as failure:
                if failure.status != 404:
                    raise kopf.TemporaryError(f"status: {failure}", delay=RETRY_DELAY) from failure

    def _lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: keys `new` lacks are
    nulled, so a field the status no longer has goes away."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            if value != before:
                patch[key] = merge_patch(before, value)
        elif value != before or key not in old:
            patch[key] = value
    return patch


def owner_uid(child: Body) -> str | None:
    """The uid of the child's controller (its parent), if any."""
    refs = (child.get("metadata") or {}).get("ownerReferences") or ()
    return next((str(r["uid"]) for r in refs if r.get("controller") and r.get("uid")), None)


def flatten(stores: Iterable[Iterable[Body]]) -> list[Body]:
    return [body for store in stores for body in store]


def _body(obj: Body) -> kopf.Body:
    """kopf's view of an object; handlers get one, indices hold plain dicts."""
    return obj if isinstance(obj, kopf.Body) else kopf.Body(cast(kopf.RawBody, dict(obj)))


def _uid(obj: Body) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _ref(obj: Body) -> tuple[str, str, str]:
    return (str(obj.get("apiVersion")), str(obj.get("kind")), str(obj["metadata"]["name"]))


def _annotations(obj: Body) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _digest(child: Mapping[str, Any]) -> str:
    """The hash of what was rendered (before the operator adds its annotation)."""
    text = json.dumps(child, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
