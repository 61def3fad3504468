"""Statistics: additive batched upserts, filtered queries, distinct-user counts."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bot.storage import Database, StatsFilter, StatsRow

D1, D2, D3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


async def test_adding_is_additive_within_and_across_batches(db: Database) -> None:
    await db.stats.add(
        [
            (D1, "channel", "総務課", "", "messages", 10),
            (D1, "channel", "総務課", "", "messages", 5),  # same key twice in one batch
            StatsRow(D1, "channel", "総務課", "written-ack", "hits", 2),
        ]
    )
    await db.stats.add([(D1, "channel", "総務課", "", "messages", 7)])
    assert await db.stats.query(D1, D1) == [
        StatsRow(D1, "channel", "総務課", "", "messages", 22),
        StatsRow(D1, "channel", "総務課", "written-ack", "hits", 2),
    ]


async def test_an_empty_batch_writes_nothing(db: Database) -> None:
    await db.stats.add([])
    assert await db.stats.query(D1, D3) == []


async def test_concurrent_batches_from_two_replicas_lose_no_counts(db: Database, replica: Database) -> None:
    batch = [(D1, kind, "dept", "", "messages", 1) for kind in ("channel", "groupChat", "personal")]
    await asyncio.gather(*((db if i % 2 else replica).stats.add(batch) for i in range(30)))
    assert [row.n for row in await db.stats.query(D1, D1)] == [30, 30, 30]


async def test_a_large_batch_is_added_in_one_call(db: Database) -> None:
    start = date(2020, 1, 1)
    rows = [(start + timedelta(days=i), "channel", "d", "r", "hits", 1) for i in range(3000)]
    await db.stats.add(rows)
    await db.stats.add(rows)
    stored = await db.stats.query(start, start + timedelta(days=3000))
    assert len(stored) == 3000 and {row.n for row in stored} == {2}


SEEDED = [
    (D1, "channel", "総務課", "written-ack", "hits", 1),
    (D2, "groupChat", "総務課", "formulaic-greeting", "hits", 2),
    (D2, "channel", "財政課", "written-ack", "nudges", 3),
    (D3, "personal", "財政課", "", "messages", 4),
]


@pytest.mark.parametrize(
    ("since", "until", "filters", "expected_n"),
    [
        (D1, D3, None, [1, 3, 2, 4]),  # by day, then conversation kind
        (D2, D2, None, [3, 2]),
        (D1, D3, StatsFilter(departments=["財政課"]), [3, 4]),
        (D1, D3, StatsFilter(rule_ids=["written-ack"]), [1, 3]),
        (D1, D3, StatsFilter(conversation_kinds={"channel", "personal"}), [1, 3, 4]),
        (D1, D3, StatsFilter(metrics=["hits"], departments=["総務課"]), [1, 2]),
        (D1, D3, StatsFilter(metrics=[]), []),
        (D3 + timedelta(days=1), D3 + timedelta(days=9), None, []),
    ],
)
async def test_query_table(
    db: Database, since: date, until: date, filters: StatsFilter | None, expected_n: list[int]
) -> None:
    await db.stats.add(SEEDED)
    assert [row.n for row in await db.stats.query(since, until, filters)] == expected_n


async def test_distinct_users_are_counted_once(db: Database) -> None:
    await db.distinct_users.add(D1, "nudged", "written-ack", "h1")
    await db.distinct_users.add(D1, "nudged", "written-ack", "h1")
    await db.distinct_users.add_many(
        [
            (D1, "nudged", "written-ack", "h2"),
            (D2, "nudged", "written-ack", "h1"),
            (D2, "nudged", "formulaic-greeting", "h3"),
            (D2, "active", "", "h1"),
            (D2, "active", "", "h1"),
        ]
    )
    assert await db.distinct_users.count(D1, D2, "nudged", "written-ack") == 2
    assert await db.distinct_users.count(D1, D2, "nudged") == 3
    assert await db.distinct_users.count(D2, D2, "nudged") == 2
    assert await db.distinct_users.count(D1, D2, "active") == 1
    assert await db.distinct_users.count(D3, D3, "nudged") == 0
    assert await db.distinct_users.count_by_dimension(D1, D2, "nudged") == {
        "written-ack": 2,
        "formulaic-greeting": 1,
    }
