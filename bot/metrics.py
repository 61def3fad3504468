"""Prometheus metrics, one registry per running app (so tests and two apps in one process never collide).

The edge counts requests, activities and auth failures; the services increment ``nudges_total``;
the outbound sender increments ``outgoing_calls_total`` and ``outgoing_retries_total``.
Label values always come from a closed set, never from what a client sent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

KNOWN_ACTIVITY_TYPES = frozenset(
    {
        "message",
        "messageUpdate",
        "messageDelete",
        "messageReaction",
        "conversationUpdate",
        "installationUpdate",
        "invoke",
        "event",
        "typing",
        "endOfConversation",
    }
)


LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RouteStats:
    """Requests, latency and activity types of the busiest route, counted without locks.

    ``prometheus_client`` takes a lock for every increment and walks the buckets in Python;
    this runs for every request on the event loop, which is one thread, so plain integers do.
    Exposed as ``http_requests_total``, ``http_request_duration_seconds`` and
    ``activities_total`` by a collector that reads them at scrape time.
    """

    __slots__ = ("activities", "buckets", "latency_sum", "route", "statuses")

    def __init__(self, route: str) -> None:
        self.route = route
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0
        self.activities: dict[str, int] = {}

    def observe(self, status: int, seconds: float) -> None:
        """One answered request."""
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def count_activity(self, activity_type: str) -> None:
        """One authenticated activity (unknown types are grouped as 'other')."""
        activities = self.activities
        if activity_type not in KNOWN_ACTIVITY_TYPES:
            activity_type = "other"
        activities[activity_type] = activities.get(activity_type, 0) + 1


class _RouteStatsCollector(Collector):
    def __init__(self, routes: list[RouteStats]) -> None:
        self._routes = routes

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests_total", "HTTP requests answered, by route and status.", labels=["route", "status"]
        )
        latency = HistogramMetricFamily(
            "http_request_duration_seconds", "Time to answer an HTTP request, by route.", labels=["route"]
        )
        activities = CounterMetricFamily(
            "activities_total", "Authenticated activities received, by activity type.", labels=["type"]
        )
        totals: dict[str, int] = {}
        for stats in self._routes:
            for status, count in sorted(stats.statuses.items()):
                requests.add_metric([stats.route, str(status)], count)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), stats.buckets, strict=True):
                cumulative += count
                buckets.append((_bound_label(bound), cumulative))
            latency.add_metric([stats.route], buckets, stats.latency_sum)
            for kind, count in stats.activities.items():
                totals[kind] = totals.get(kind, 0) + count
        for kind, count in sorted(totals.items()):
            activities.add_metric([kind], count)
        yield requests
        yield latency
        yield activities


def _bound_label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class Metrics:
    """The bot's metrics and the registry that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._routes: list[RouteStats] = []
        registry.register(_RouteStatsCollector(self._routes))
        self.duplicate_activities_total = Counter(
            "duplicate_activities_total",
            "Redelivered activities answered without handling them again.",
            registry=registry,
        )
        self.auth_failures_total = Counter(
            "auth_failures_total",
            "Requests refused by authentication, by reason.",
            ["reason"],
            registry=registry,
        )
        self.handler_errors_total = Counter(
            "handler_errors_total",
            "Exceptions raised by the event handler, by event.",
            ["event"],
            registry=registry,
        )
        self.nudges_total = Counter("nudges_total", "Nudges sent, by rule id.", ["rule"], registry=registry)
        self.outgoing_calls_total = Counter(
            "outgoing_calls_total",
            "Calls to the Bot Connector, by HTTP status (or 'error').",
            ["status"],
            registry=registry,
        )
        self.outgoing_retries_total = Counter(
            "outgoing_retries_total",
            "Retried Bot Connector calls, by reason (status or error).",
            ["reason"],
            registry=registry,
        )
        self.outgoing_rejected_total = Counter(
            "outgoing_rejected_total",
            "Outgoing messages dropped because the send queue was full.",
            registry=registry,
        )
        self.outgoing_queue_depth = Gauge(
            "outgoing_queue_depth", "Outgoing messages waiting in the send queue.", registry=registry
        )

    def route(self, route: str) -> RouteStats:
        """The lock-free request/latency/activity counters of ``route`` (one per route)."""
        for stats in self._routes:
            if stats.route == route:
                return stats
        stats = RouteStats(route)
        self._routes.append(stats)
        return stats

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
