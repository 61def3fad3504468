"""Prometheus metrics, one registry per running app (so tests and two apps in one process never collide).

The edge counts requests, activities and auth failures; the services increment ``nudges_total``;
the outbound sender increments ``outgoing_calls_total`` and ``outgoing_retries_total``.
Label values always come from a closed set, never from what a client sent.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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


class Metrics:
    """The bot's metrics and the registry that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.http_requests_total = Counter(
            "http_requests_total",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.http_request_duration_seconds = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
        self.activities_total = Counter(
            "activities_total",
            "Authenticated activities received, by activity type.",
            ["type"],
            registry=registry,
        )
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
        self._activity_children: dict[str, Any] = {}
        self.outgoing_queue_depth = Gauge(
            "outgoing_queue_depth", "Outgoing messages waiting in the send queue.", registry=registry
        )

    def count_activity(self, activity_type: str) -> None:
        """Count one authenticated activity (unknown types are grouped as 'other')."""
        child = self._activity_children.get(activity_type)
        if child is None:  # labels() costs microseconds; the hot path reuses the bound child
            label = activity_type if activity_type in KNOWN_ACTIVITY_TYPES else "other"
            child = self.activities_total.labels(label)
            if label != "other":
                self._activity_children[activity_type] = child
        child.inc()

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
