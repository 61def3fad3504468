"""The endpoint's small parts, as tables: the JSON content-type test, the redelivery record and
the lock-free route statistics (whose exposition the Prometheus text format must accept)."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import LATENCY_BUCKETS, Metrics
from bot.teams.endpoint import RecentActivities, _is_json, parse_json_body


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


_REFUSED = object()


def _read(parse: object, body: bytes) -> object:
    try:
        return parse(body)  # type: ignore[operator]
    except (ValueError, RecursionError):
        return _REFUSED


def _big_int_as_float(parsed: object, loaded: object) -> bool:
    """The one allowed difference: an integer beyond 64 bits read as the nearest float."""
    return (
        isinstance(parsed, float)
        and type(loaded) is int
        and not -(2**63) <= loaded < 2**64
        and parsed == float(loaded)
    )


def _same(left: object, right: object) -> bool:
    """Equal, NaN included (NaN != NaN), and of the same types all the way down."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if _big_int_as_float(left, right):
        return True
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)  # type: ignore[union-attr,index]
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))  # type: ignore[arg-type]
    return left == right


@pytest.mark.parametrize(
    "body",
    [
        rb'{"type": "message", "text": "\u304a\u75b2\u308c\u69d8"}',
        '{"text": "お疲れ様です"}'.encode(),
        b'{"n": NaN, "i": Infinity, "m": -Infinity}',  # orjson refuses these; json reads them
        b'{"big": 123456789012345678901234567890}',  # beyond 64 bits: the nearest float
        b'{"huge": ' + b"9" * 400 + b"}",  # beyond a double: json's int
        rb'{"lone": "\ud800"}',  # a lone surrogate
        '{"text": "utf-16"}'.encode("utf-16"),  # json detects UTF-16/32 by the BOM
        '{"text": "utf-32"}'.encode("utf-32"),
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM: json refuses it
        b'{"a": 1, "a": 2}',  # the last duplicate wins
        b"[" * 2000 + b"]" * 2000,  # deeper than orjson reads
        b"[" * 100_000 + b"]" * 100_000,
        b'{"text": "\xff\xfe"}',  # not UTF-8
        b'{"type": "message",',
        b"",
        b"  \n{}\n ",
        b"1e400",
        rb'"\u0000"',
    ],
)
def test_the_body_parser_reads_what_json_loads_reads(body: bytes) -> None:
    assert _same(_read(parse_json_body, body), _read(json.loads, body))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, ascii_only=st.booleans())
def test_generated_bodies_parse_as_json_loads_parses_them(value: object, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _same(_read(parse_json_body, body), _read(json.loads, body))


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
