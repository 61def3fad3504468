"""Nudge state: caps that hold under concurrency and across replicas, snoozes, opt-outs,
feedback, sent-nudge records for withdrawal and the greeting-then-content window."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.storage import Database, FeedbackCount
from bot.storage.models import recent_events, sent_nudges

DAY = date(2026, 11, 25)


def count_rows(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


USER = "hmac-user-1"


@pytest.mark.parametrize(
    ("already", "asked", "per_rule", "overall", "granted"),
    [
        ([], ["written-ack"], 1, 3, ["written-ack"]),
        ([["written-ack"]], ["written-ack"], 1, 3, []),
        ([["written-ack"]], ["written-ack"], 2, 3, ["written-ack"]),
        ([], ["a", "b", "c", "d"], 1, 3, ["a", "b", "c"]),
        ([["a", "b"]], ["c", "d"], 1, 3, ["c"]),
        ([["a"]], ["a", "b"], 1, 3, ["b"]),
        ([], ["a", "a", "b"], 1, 3, ["a", "b"]),
        ([["a", "b", "c"]], ["d"], 1, 3, []),
        ([], [], 1, 3, []),
        ([], ["a"], 0, 3, []),
        ([], ["a"], 1, 0, []),
    ],
)
async def test_reserve_table(
    db: Database, already: list[list[str]], asked: list[str], per_rule: int, overall: int, granted: list[str]
) -> None:
    for rules in already:
        await db.nudges.reserve(USER, rules, DAY, per_rule_cap=per_rule, overall_cap=overall)
    assert await db.nudges.reserve(USER, asked, DAY, per_rule_cap=per_rule, overall_cap=overall) == granted


async def test_reserve_counts_per_user_and_per_day(db: Database) -> None:
    assert await db.nudges.reserve(USER, ["a"], DAY) == ["a"]
    assert await db.nudges.reserve("hmac-user-2", ["a"], DAY) == ["a"]
    assert await db.nudges.reserve(USER, ["a"], DAY + timedelta(days=1)) == ["a"]


async def test_reserve_skips_opted_out_rules_and_snoozed_users(db: Database) -> None:
    await db.nudges.opt_out(USER, "a")
    assert await db.nudges.reserve(USER, ["a", "b"], DAY) == ["b"]
    await db.nudges.snooze_until(USER, DAY)
    assert await db.nudges.reserve(USER, ["c"], DAY) == []
    assert await db.nudges.reserve(USER, ["c"], DAY + timedelta(days=1)) == ["c"]


async def test_release_gives_a_reservation_back(db: Database) -> None:
    assert await db.nudges.reserve(USER, ["a", "b", "c"], DAY) == ["a", "b", "c"]
    await db.nudges.release(USER, ["b"], DAY)
    assert await db.nudges.reserve(USER, ["a", "b"], DAY) == ["b"]
    await db.nudges.release(USER, ["zzz"], DAY)  # never reserved: nothing changes
    assert await db.nudges.reserve(USER, ["d"], DAY) == []


@pytest.mark.parametrize("per_rule_cap", [1, 2])
async def test_concurrent_reserves_of_one_rule_on_two_replicas_grant_exactly_the_cap(
    db: Database, replica: Database, per_rule_cap: int
) -> None:
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nudges.reserve(USER, ["written-ack"], DAY, per_rule_cap=per_rule_cap)
            for i in range(40)
        )
    )
    assert sum(len(r) for r in results) == per_rule_cap


async def test_concurrent_reserves_of_different_rules_respect_the_overall_cap(
    db: Database, replica: Database
) -> None:
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nudges.reserve(USER, [f"rule-{i}"], DAY, overall_cap=3)
            for i in range(40)
        )
    )
    granted = [rule for r in results for rule in r]
    assert len(granted) == 3 and len(set(granted)) == 3


async def test_snooze_until_a_day_then_unsnooze(db: Database) -> None:
    assert await db.nudges.snoozed(USER, DAY) is False
    await db.nudges.snooze_until(USER, DAY)
    assert [
        await db.nudges.snoozed(USER, d) for d in (DAY - timedelta(days=1), DAY, DAY + timedelta(days=1))
    ] == [
        True,
        True,
        False,
    ]
    assert await db.nudges.snoozed_until(USER) == DAY
    await db.nudges.snooze_until(USER, DAY + timedelta(days=7))
    assert await db.nudges.snoozed_until(USER) == DAY + timedelta(days=7)
    await db.nudges.unsnooze(USER)
    assert await db.nudges.snoozed(USER, DAY) is False
    assert await db.nudges.snoozed_until(USER) is None


async def test_opt_out_and_opt_in(db: Database) -> None:
    await db.nudges.opt_out(USER, "written-ack")
    await db.nudges.opt_out(USER, "written-ack")  # a second click does no harm
    await db.nudges.opt_out(USER, "formulaic-greeting")
    await db.nudges.opt_out("someone-else", "personal-info")
    assert await db.nudges.opted_out(USER) == {"written-ack", "formulaic-greeting"}
    await db.nudges.opt_in(USER, "written-ack")
    await db.nudges.opt_in(USER, "never-opted-out")
    assert await db.nudges.opted_out(USER) == {"formulaic-greeting"}


async def test_feedback_is_stored_once_per_nudge_and_user(db: Database) -> None:
    assert await db.nudges.record_feedback("written-ack", True, DAY, USER, "n1") is True
    assert (
        await db.nudges.record_feedback("written-ack", False, DAY, USER, "n1") is False
    )  # old card clicked again
    assert await db.nudges.record_feedback("written-ack", False, DAY, "hmac-user-2", "n2") is True
    assert await db.nudges.record_feedback("written-ack", False, DAY, "hmac-user-3", "n3") is True
    assert (
        await db.nudges.record_feedback("formulaic-greeting", True, DAY - timedelta(days=30), USER, "n4")
        is True
    )
    assert await db.nudges.feedback_counts(DAY) == [FeedbackCount("written-ack", helpful=1, not_helpful=2)]
    assert await db.nudges.feedback_counts(DAY - timedelta(days=30), DAY - timedelta(days=1)) == [
        FeedbackCount("formulaic-greeting", helpful=1, not_helpful=0)
    ]


async def test_concurrent_double_clicks_on_two_replicas_store_one_feedback(
    db: Database, replica: Database
) -> None:
    results = await asyncio.gather(
        *((db if i % 2 else replica).nudges.record_feedback("a", True, DAY, USER, "n1") for i in range(10))
    )
    assert results.count(True) == 1
    assert await db.nudges.feedback_counts(DAY) == [FeedbackCount("a", 1, 0)]


async def test_a_sent_nudge_is_found_for_its_message_and_withdrawn_once(
    db: Database, replica: Database
) -> None:
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    await db.nudges.record_sent_nudge("n1", "msg-1", "19:c", USER, ["a", "b"], "act-9", "targeted", at)
    await db.nudges.record_sent_nudge(
        "n1", "msg-1", "19:c", USER, ["a", "b"], "act-9", "targeted", at
    )  # retry
    found = await db.nudges.find_nudge_for_message("19:c", "msg-1")
    assert found is not None
    assert (found.nudge_id, found.rule_ids, found.sent_activity_id, found.delivered_via, found.sent_at) == (
        "n1",
        ("a", "b"),
        "act-9",
        "targeted",
        at,
    )
    assert found.withdrawn_at is None
    assert await db.nudges.find_nudge_for_message("19:c", "msg-2") is None
    assert await db.nudges.find_nudge_for_message("19:other", "msg-1") is None
    withdrawals = await asyncio.gather(db.nudges.mark_withdrawn("n1"), replica.nudges.mark_withdrawn("n1"))
    assert sorted(withdrawals) == [False, True]
    withdrawn = await db.nudges.get_sent_nudge("n1")
    assert withdrawn is not None and withdrawn.withdrawn_at is not None
    assert await db.nudges.mark_withdrawn("unknown") is False


async def test_the_latest_nudge_for_a_message_is_found(db: Database) -> None:
    first = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    await db.nudges.record_sent_nudge("n1", "msg-1", "19:c", USER, ["a"], None, "personal", first)
    await db.nudges.record_sent_nudge(
        "n2", "msg-1", "19:c", USER, ["b"], "x", "targeted", first + timedelta(minutes=2)
    )
    found = await db.nudges.find_nudge_for_message("19:c", "msg-1")
    assert found is not None and found.nudge_id == "n2"


async def test_greeting_only_is_remembered_per_user_and_conversation(db: Database) -> None:
    first = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)
    assert await db.nudges.last_greeting_only(USER, "19:c") is None
    await db.nudges.record_greeting_only(USER, "19:c", first)
    await db.nudges.record_greeting_only(USER, "19:c", first + timedelta(seconds=40))
    assert await db.nudges.last_greeting_only(USER, "19:c") == first + timedelta(seconds=40)
    assert await db.nudges.last_greeting_only(USER, "19:other") is None
    assert await db.nudges.last_greeting_only("hmac-user-2", "19:c") is None
    assert await db.nudges.last_event(USER, "19:c", "other-kind") is None


async def test_times_come_back_as_aware_utc(db: Database) -> None:
    jst = datetime(2026, 11, 25, 10, 0, tzinfo=UTC) + timedelta(hours=9)
    await db.nudges.record_event(USER, "19:c", "k", jst.astimezone(ZoneInfo("Asia/Tokyo")))
    stored = await db.nudges.last_event(USER, "19:c", "k")
    assert stored == jst and stored is not None and stored.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        await db.nudges.record_event(USER, "19:c", "k", datetime(2026, 11, 25, 10, 0))


async def test_purge_drops_old_state_but_keeps_feedback(db: Database) -> None:
    now = datetime.now(UTC)
    old_day = now.date() - timedelta(days=40)
    await db.nudges.reserve(USER, ["a"], old_day)
    await db.nudges.reserve(USER, ["a"], now.date())
    await db.nudges.snooze_until(USER, old_day)
    await db.nudges.record_sent_nudge(
        "old", "m", "c", USER, ["a"], None, "personal", now - timedelta(days=40)
    )
    await db.nudges.record_sent_nudge("new", "m2", "c", USER, ["a"], None, "personal", now)
    await db.nudges.record_greeting_only(USER, "c", now - timedelta(days=40))
    await db.nudges.record_feedback("a", True, old_day, USER, "old")
    removed = await db.nudges.purge_older_than(30)
    assert removed == 5  # the old rule-day and user-day counters, the snooze, the sent nudge, the event
    assert await db.nudges.get_sent_nudge("old") is None
    assert await db.nudges.get_sent_nudge("new") is not None
    assert await db.nudges.reserve(USER, ["a"], now.date()) == []
    assert await db.nudges.feedback_counts(old_day) == [FeedbackCount("a", 1, 0)]
    assert await db.read(count_rows, recent_events) == 0
    assert await db.read(count_rows, sent_nudges) == 1


async def test_reserve_with_a_once_key_claims_it_in_the_same_write(db: Database) -> None:
    assert await db.nudges.reserve(USER, ["a"], DAY, per_rule_cap=5, once_key="nudge:19:c:m1") == ["a"]
    # a redelivery of the same message gets nothing and uses up nothing
    assert await db.nudges.reserve(USER, ["a"], DAY, per_rule_cap=5, once_key="nudge:19:c:m1") == []
    assert await db.activity_claims.claim("nudge:19:c:m1") is False
    assert await db.nudges.reserve(USER, ["a"], DAY, per_rule_cap=2, once_key="nudge:19:c:m2") == ["a"]
    assert await db.nudges.reserve(USER, ["a"], DAY, per_rule_cap=2, once_key="nudge:19:c:m3") == []


async def test_a_message_delivered_to_two_replicas_at_once_is_reserved_once(
    db: Database, replica: Database
) -> None:
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nudges.reserve(
                f"user-{i % 3}", ["a"], DAY, per_rule_cap=100, overall_cap=100, once_key="nudge:19:c:same"
            )
            for i in range(20)
        )
    )
    assert sum(1 for granted in results if granted) == 1


async def test_a_sent_nudge_keeps_its_exact_time_whatever_the_zone(db: Database) -> None:
    at = datetime.now(ZoneInfo("Asia/Tokyo")).replace(microsecond=123456)
    await db.nudges.record_sent_nudge("n-t", "msg-t", "19:t", USER, ["a"], None, "personal", at)
    found = await db.nudges.get_sent_nudge("n-t")
    assert found is not None and found.sent_at == at and found.sent_at.tzinfo is not None
    assert found.rule_ids == ("a",)
    # and the purge, which compares times in SQL, still sees it as recent
    assert await db.nudges.purge_older_than(30) == 0
    assert await db.nudges.get_sent_nudge("n-t") is not None


async def test_sent_nudge_records_are_written_together_after_a_moment(db: Database) -> None:
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    for number in range(20):
        await db.nudges.record_sent_nudge(
            f"n{number}", f"m{number}", "19:c", USER, ["a"], None, "targeted", at
        )
    assert await db.read(count_rows, sent_nudges) == 0  # not one transaction per record
    for _ in range(200):
        if await db.read(count_rows, sent_nudges) == 20:
            break
        await asyncio.sleep(0.01)
    assert await db.read(count_rows, sent_nudges) == 20  # all of them, without a reader asking


async def test_reading_sent_nudges_sees_the_records_still_waiting(db: Database) -> None:
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    await db.nudges.record_sent_nudge("n1", "m1", "19:c", USER, ["a"], "act-1", "targeted", at)
    found = await db.nudges.find_nudge_for_message("19:c", "m1")
    assert found is not None and found.sent_activity_id == "act-1"
    await db.nudges.record_sent_nudge("n2", "m2", "19:c", USER, ["a"], "act-2", "targeted", at)
    assert await db.nudges.mark_withdrawn("n2") is True
    await db.nudges.record_sent_nudge("n3", "m3", "19:c", USER, ["a"], "act-3", "targeted", at)
    assert await db.nudges.get_sent_nudge("n3") is not None


async def test_closing_the_database_stores_the_records_still_waiting(database_url: str) -> None:
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    first = Database.connect(database_url)
    await first.nudges.record_sent_nudge("n-closing", "m", "19:c", USER, ["a"], None, "targeted", at)
    await first.close()
    second = Database.connect(database_url)
    try:
        assert await second.nudges.get_sent_nudge("n-closing") is not None
    finally:
        await second.close()
