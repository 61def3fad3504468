"""The endpoint's small parts, as tables: the JSON content-type test, the redelivery record and
the lock-free route statistics (whose exposition the Prometheus text format must accept)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import LATENCY_BUCKETS, Metrics
from bot.teams.endpoint import RecentActivities, _is_json


@pytest.mark.parametrize(
    ("header", "is_json"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("  application/json ;charset=UTF-8", True),
        ("application/json-patch+json", False),
        ("application/jsonx", False),
        ("text/json", False),
        ("text/plain", False),
        ("", False),
        (None, False),
    ],
)
def test_json_content_types(header: str | None, is_json: bool) -> None:
    assert _is_json(header) is is_json


async def test_a_redelivery_gets_the_first_answer_also_while_it_is_being_handled() -> None:
    recent = RecentActivities()
    key = ("invoke", "19:c", "a1", "")
    assert recent.claim(key) is True
    assert recent.claim(key) is False
    waiting = asyncio.create_task(recent.answer_of(key))
    await asyncio.sleep(0)
    assert not waiting.done()  # the first delivery is still being handled
    recent.settle(key, (200, {"statusCode": 200}))
    assert await waiting == (200, {"statusCode": 200})
    assert await recent.answer_of(key) == (200, {"statusCode": 200})  # and later too


async def test_a_forgotten_claim_is_handled_again_and_its_waiters_are_told_to_retry() -> None:
    recent = RecentActivities()
    key = ("message", "19:c", "m1", "")
    recent.claim(key)
    waiting = asyncio.create_task(recent.answer_of(key))
    await asyncio.sleep(0)
    recent.forget(key)
    assert await waiting == (503, None)
    assert recent.claim(key) is True


async def test_the_record_is_bounded_oldest_first() -> None:
    recent = RecentActivities(capacity=3)
    keys = [("message", "c", str(i), "") for i in range(5)]
    for key in keys:
        assert recent.claim(key)
        recent.settle(key, (200, None))
    assert [recent.claim(key) for key in keys[2:]] == [False, False, False]  # still remembered
    assert recent.claim(keys[0]) is True  # the oldest were let go: handled again if redelivered


def test_route_statistics_are_exposed_as_counters_and_a_cumulative_histogram() -> None:
    metrics = Metrics()
    stats = metrics.route("/api/messages")
    assert metrics.route("/api/messages") is stats
    for status, seconds in [(200, 0.0001), (200, 0.003), (401, 0.003), (200, 99.0)]:
        stats.observe(status, seconds)
    for kind in ["message", "message", "typing", "made-up"]:
        stats.count_activity(kind)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition()[0].decode())}
    requests = {
        s.labels["status"]: s.value for s in families["http_requests"].samples if s.name.endswith("_total")
    }
    assert requests == {"200": 3.0, "401": 1.0}
    buckets = {
        s.labels["le"]: s.value
        for s in families["http_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert (buckets["0.0005"], buckets["0.0025"], buckets["0.005"], buckets["5.0"], buckets["+Inf"]) == (
        1.0,
        1.0,
        3.0,
        3.0,
        4.0,
    )
    total = {s.name: s.value for s in families["http_request_duration_seconds"].samples}
    assert total["http_request_duration_seconds_count"] == 4.0
    assert total["http_request_duration_seconds_sum"] == pytest.approx(99.0061)
    activities = {
        s.labels["type"]: s.value for s in families["activities"].samples if s.name.endswith("_total")
    }
    assert activities == {"message": 2.0, "typing": 1.0, "other": 1.0}
