"""Prometheus metrics, read from the gateway's own counters at scrape time.

The request path only bumps plain integers (see `revision.Counters`); this collector turns them
into metric families when `/metrics` is scraped, so measuring costs the proxy next to nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from mlservice.gateway.core import Core
from mlservice.gateway.revision import BUCKETS, Counters, RevisionState

_REVISION = ["namespace", "service", "component", "release", "revision"]


def _labels(state: RevisionState) -> list[str]:
    r = state.revision
    return [r.namespace, r.service, r.component, r.release, r.id]


class GatewayCollector:
    def __init__(self, core: Core) -> None:
        self.core = core

    def describe(self) -> list[Metric]:
        return []  # collected fresh at every scrape

    def collect(self) -> Iterator[Metric]:
        states = list(self.core.table.revisions.values())
        yield from self._requests(states)
        yield self._latency(states)
        yield from self._gauges(states)
        yield from self._logger()
        yield from self._shadow()
        version = GaugeMetricFamily("mls_gateway_snapshot_version", "Routing snapshot served.")
        version.add_metric([], self.core.table.version)
        yield version

    def _requests(self, states: list[RevisionState]) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "mls_gateway_requests", "Requests answered, by revision and status code.",
            labels=[*_REVISION, "code"],
        )  # fmt: skip
        for state in states:
            for code, count in state.counters.codes.items():
                total.add_metric([*_labels(state), str(code)], count)
        yield total
        unrouted = CounterMetricFamily(
            "mls_gateway_unrouted_requests",
            "Requests answered before reaching a revision (unknown host, paused, queue full).",
            labels=["code"],
        )
        for code, count in self.core.unrouted_codes.items():
            unrouted.add_metric([str(code)], count)
        yield unrouted
        activations = CounterMetricFamily(
            "mls_gateway_activations", "Activation signals sent.", labels=_REVISION
        )
        for state in states:
            activations.add_metric(_labels(state), state.activations)
        yield activations

    def _latency(self, states: list[RevisionState]) -> Metric:
        family = HistogramMetricFamily(
            "mls_gateway_request_duration_seconds",
            "Time from request head to the end of the answer, queueing included.",
            labels=_REVISION,
        )
        for state in states:
            family.add_metric(_labels(state), _buckets(state.counters), state.counters.seconds)
        return family

    def _gauges(self, states: list[RevisionState]) -> Iterator[Metric]:
        specs = (
            ("mls_gateway_in_flight", "Requests being answered by replicas.", "in_flight"),
            ("mls_gateway_queue_depth", "Requests waiting for a replica or a free slot.", "queued"),
        )
        for name, doc, attribute in specs:
            gauge = GaugeMetricFamily(name, doc, labels=_REVISION)
            for state in states:
                gauge.add_metric(_labels(state), getattr(state, attribute))
            yield gauge
        ready = GaugeMetricFamily(
            "mls_gateway_replicas", "Ready replicas routed to.", labels=_REVISION
        )
        for state in states:
            ready.add_metric(_labels(state), len(state.replicas))
        yield ready

    def _shadow(self) -> Iterator[Metric]:
        """Shadow copies by shadow revision (gateway/shadow.py, docs/shadow.md)."""
        stats = self.core.shadows.stats
        labels = ["namespace", "service", "release", "revision"]

        def of(revision: str) -> list[str]:
            s = stats[revision]
            return [s.namespace, s.service, s.release, revision]

        copies = CounterMetricFamily(
            "mls_gateway_shadow_copies",
            "Shadow copies sent, or dropped: queue full, body over 1 MiB, no ready replica.",
            labels=[*labels, "outcome"],
        )
        answers = CounterMetricFamily(
            "mls_gateway_shadow_requests",
            "Shadow copies answered, by status code (502/504: no answer, or none in time).",
            labels=[*labels, "code"],
        )
        errors = CounterMetricFamily(
            "mls_gateway_shadow_errors", "Shadow copies answered 5xx or not at all.", labels=labels
        )
        agreement = CounterMetricFamily(
            "mls_gateway_shadow_agreement",
            "Shadow answers compared with the client's: agree, disagree, incomparable.",
            labels=[*labels, "result"],
        )
        latency = HistogramMetricFamily(
            "mls_gateway_shadow_duration_seconds",
            "Time from sending a shadow copy to the end of its answer.",
            labels=labels,
        )
        for revision, s in stats.items():
            for outcome, count in s.copies.items():
                copies.add_metric([*of(revision), outcome], count)
            for code, count in s.answers.codes.items():
                answers.add_metric([*of(revision), str(code)], count)
            errors.add_metric(of(revision), s.errors)
            for verdict, count in s.verdicts.items():
                agreement.add_metric([*of(revision), verdict], count)
            latency.add_metric(of(revision), _buckets(s.answers), s.answers.seconds)
        yield from (copies, answers, errors, agreement, latency)

    def _logger(self) -> Iterator[Metric]:
        log = self.core.request_log
        events = CounterMetricFamily(
            "mls_gateway_logger_events",
            "Request-log events per sink: sent, failed after retries, dropped (queue full).",
            labels=["url", "outcome"],
        )
        # Labelled by the URL without its secrets (this page is open); URLs that differ only in
        # a secret share a label, so their counts are summed.
        totals: dict[str, list[int]] = {}
        for sender in log.senders.values():
            counts = totals.setdefault(sender.label, [0, 0, 0])
            counts[0] += sender.stats.sent
            counts[1] += sender.stats.failed
            counts[2] += sender.stats.dropped
        for label, counts in totals.items():
            for outcome, count in zip(("sent", "failed", "dropped"), counts, strict=True):
                events.add_metric([label, outcome], count)
        yield events
        local = CounterMetricFamily(
            "mls_gateway_logger_file_events",
            "Request-log events written to (or dropped before) the local file.",
            labels=["outcome"],
        )
        local.add_metric(["written"], log.file_written)
        local.add_metric(["dropped"], log.file_dropped)
        yield local


def _buckets(counters: Counters) -> list[tuple[str, float]]:
    cumulative, buckets = 0, list[tuple[str, float]]()
    for bound, count in zip((*BUCKETS, float("inf")), counters.buckets, strict=True):
        cumulative += count
        buckets.append((str(bound) if bound != float("inf") else "+Inf", cumulative))
    return buckets


def registry_for(core: Core) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(core))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total: CPU per request in bench/
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return bytes(generate_latest(registry))
