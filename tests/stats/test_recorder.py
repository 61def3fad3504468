"""Counting through the recorder into real storage: sums, redeliveries, replicas, shutdown, no text."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain import ConversationKind
from bot.stats import StatsRecorder
from bot.stats.recorder import Metric
from bot.storage import Database, StatsFilter
from bot.storage.models import metadata
from policy_rules import MessageInput, load_rule_set

DAY = date(2026, 11, 24)


def recorder_for(db: Database, **options: float) -> StatsRecorder:
    return StatsRecorder(db.stats, db.distinct_users, db.activity_claims, **options)  # type: ignore[arg-type]


async def totals(db: Database, metric: Metric, **by: str) -> int:
    rows = await db.stats.query(DAY, DAY, StatsFilter(metrics=[metric.value]))
    return sum(r.n for r in rows if all(getattr(r, column) == value for column, value in by.items()))


# (what is recorded, metric, filter columns, expected sum)
COUNTING = [
    ("three messages", Metric.MESSAGES, {}, 3),
    ("channel messages only", Metric.MESSAGES, {"conversation_kind": "channel"}, 2),
    ("one department", Metric.MESSAGES, {"department": "総務課"}, 2),
    ("rule hits per rule", Metric.RULE_HITS, {"rule_id": "written-ack"}, 2),
    (
        "a rule listed twice in one message counts once",
        Metric.RULE_HITS,
        {"rule_id": "formulaic-greeting"},
        1,
    ),
    ("nudges", Metric.NUDGES, {"rule_id": "written-ack"}, 1),
    ("questions by kind", Metric.QUESTIONS, {"conversation_kind": "personal"}, 1),
    ("helpful feedback", Metric.FEEDBACK_HELPFUL, {"rule_id": "written-ack"}, 1),
    ("not helpful feedback", Metric.FEEDBACK_NOT_HELPFUL, {"rule_id": "formulaic-greeting"}, 1),
    ("snoozes", Metric.SNOOZES, {}, 1),
    ("opt-outs", Metric.OPT_OUTS, {"rule_id": "formulaic-greeting"}, 1),
    ("unknown department is 未設定", Metric.MESSAGES, {"department": "未設定"}, 1),
]


@pytest.mark.parametrize(("case", "metric", "by", "expected"), COUNTING, ids=[c[0] for c in COUNTING])
async def test_counts_reach_storage(
    lite_db: Database, case: str, metric: Metric, by: dict[str, str], expected: int
) -> None:
    recorder = recorder_for(lite_db)
    recorder.record_message(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        user_key="u1",
        activity_id="a1",
        rule_ids=["written-ack", "formulaic-greeting", "formulaic-greeting"],
        nudged_rule_ids=["written-ack"],
    )
    recorder.record_message(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        user_key="u2",
        activity_id="a2",
        rule_ids=["written-ack"],
    )
    recorder.record_message(
        day=DAY,
        conversation_kind="personal",
        department=None,
        user_key="u3",
        activity_id="a3",
        is_question=True,
    )
    recorder.record_feedback(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        rule_ids=["written-ack"],
        helpful=True,
        user_key="u1",
        activity_id="f1",
    )
    recorder.record_feedback(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        rule_ids=["formulaic-greeting"],
        helpful=False,
        user_key="u1",
        activity_id="f2",
    )
    recorder.record_snooze(day=DAY, conversation_kind="channel", department="総務課", activity_id="s1")
    recorder.record_opt_out(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        rule_id="formulaic-greeting",
        activity_id="o1",
    )
    await recorder.flush()
    assert await totals(lite_db, metric, **by) == expected, case


async def test_distinct_senders_are_keyed_hashes_per_department(lite_db: Database) -> None:
    recorder = recorder_for(lite_db)
    for index, user in enumerate(["k1", "k2", "k1", "k3"]):
        recorder.record_message(
            day=DAY, conversation_kind="channel", department="税務課", user_key=user, activity_id=f"m{index}"
        )
    await recorder.flush()
    assert await lite_db.distinct_users.count(DAY, DAY, "senders", "税務課") == 3
    assert await lite_db.distinct_users.count(DAY, DAY, "senders", "総務課") == 0


async def test_redelivery_in_one_batch_and_across_batches_counts_once(db: Database) -> None:
    recorder = recorder_for(db)
    for _ in range(3):
        recorder.record_message(
            day=DAY,
            conversation_kind="channel",
            department="総務課",
            user_key="u",
            activity_id="same",
            rule_ids=["written-ack"],
        )
    await recorder.flush()
    recorder.record_message(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        user_key="u",
        activity_id="same",
        rule_ids=["written-ack"],
    )
    await recorder.flush()
    assert await totals(db, Metric.MESSAGES) == 1
    assert await totals(db, Metric.RULE_HITS) == 1
    assert recorder.duplicates_dropped == 3


async def test_message_and_its_later_nudge_are_both_counted(lite_db: Database) -> None:
    recorder = recorder_for(lite_db)
    recorder.record_message(
        day=DAY, conversation_kind="groupChat", department="a", user_key="u", activity_id="m"
    )
    await recorder.flush()
    recorder.record_nudge(
        day=DAY, conversation_kind="groupChat", department="a", rule_ids=["written-ack"], activity_id="m"
    )
    await recorder.flush()
    assert await totals(lite_db, Metric.MESSAGES) == 1
    assert await totals(lite_db, Metric.NUDGES) == 1


async def test_two_replicas_receiving_the_same_activity_count_it_once(
    db: Database, replica: Database
) -> None:
    first, second = recorder_for(db), recorder_for(replica)
    for recorder in (first, second):
        for activity in ("shared-1", "shared-2"):
            recorder.record_message(
                day=DAY, conversation_kind="channel", department="総務課", user_key="u", activity_id=activity
            )
    second.record_message(
        day=DAY, conversation_kind="channel", department="総務課", user_key="v", activity_id="only-2"
    )
    await asyncio.gather(first.flush(), second.flush())
    assert await totals(db, Metric.MESSAGES) == 3


async def test_clean_shutdown_writes_what_is_in_memory(db: Database) -> None:
    recorder = recorder_for(db, flush_interval_s=3600)
    recorder.start()
    for index in range(50):
        recorder.record_message(
            day=DAY,
            conversation_kind="channel",
            department="総務課",
            user_key=f"u{index}",
            activity_id=f"m{index}",
        )
    assert await totals(db, Metric.MESSAGES) == 0  # nothing written on the message path
    await recorder.close()
    assert await totals(db, Metric.MESSAGES) == 50


async def test_periodic_flush_runs_in_the_background(lite_db: Database) -> None:
    recorder = recorder_for(lite_db, flush_interval_s=0.05)
    recorder.start()
    recorder.record_message(
        day=DAY, conversation_kind="channel", department="x", user_key="u", activity_id="bg"
    )
    for _ in range(100):
        if recorder.flushes:
            break
        await asyncio.sleep(0.02)
    assert await totals(lite_db, Metric.MESSAGES) == 1
    await recorder.close()


class FailingCounters:
    """A storage whose first write fails, to show the counts wait for the next flush."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    async def add(self, rows: object) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("database went away")
        await self.real.add(rows)  # type: ignore[attr-defined]


async def test_a_failed_write_is_retried_without_double_counting(lite_db: Database) -> None:
    counters = FailingCounters(lite_db.stats)
    recorder = StatsRecorder(counters, lite_db.distinct_users, lite_db.activity_claims)  # type: ignore[arg-type]
    recorder.record_message(
        day=DAY, conversation_kind="channel", department="x", user_key="u", activity_id="r1"
    )
    with pytest.raises(ConnectionError):
        await recorder.flush()
    await recorder.flush()
    assert await totals(lite_db, Metric.MESSAGES) == 1


SENT_TEXTS = [
    "お疲れ様です。総務課の山田です。明日の会議資料を共有します。",
    "承知しました！",
    "後ほどお電話ください。内容は電話で説明します。",
    "連絡先は090-1234-5678です。生年月日は1980年4月1日です。",
    "経費精算システムのやり方を教えてください",
]
PERSONAL_DATA = ["090-1234-5678", "1980年4月1日", "山田"]


def test_no_text_or_personal_datum_is_stored(sqlite_template: Path, tmp_path: Path) -> None:
    """Messages go through the real rules and the recorder; the database files hold none of them."""
    path = tmp_path / "bot.db"
    shutil.copyfile(sqlite_template, path)
    rules = load_rule_set()

    async def run() -> list[str]:
        async with Database.connect(f"sqlite:///{path}") as db:
            recorder = recorder_for(db)
            fired: list[str] = []
            for index, text in enumerate(SENT_TEXTS):
                kind: ConversationKind = "personal" if "教えて" in text else "channel"
                rule_ids = rules.fired_rule_ids(MessageInput(text=text, conversation_type=kind))
                fired.extend(rule_ids)
                recorder.record_message(
                    day=DAY,
                    conversation_kind=kind,
                    department="総務課",
                    user_key=f"hash{index}",
                    activity_id=f"act{index}",
                    rule_ids=rule_ids,
                    nudged_rule_ids=rule_ids[:1],
                    is_question="教えて" in text,
                )
            await recorder.close()
            assert await totals(db, Metric.MESSAGES) == len(SENT_TEXTS)
            return fired

    fired = asyncio.run(run())
    assert {"formulaic-greeting", "written-ack", "chat-before-phone", "personal-info"} <= set(fired)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot.db"))
    assert "総務課".encode() in stored, "the scan must see what was stored (department names)"
    for needle in [*SENT_TEXTS, *PERSONAL_DATA, *(t[:8] for t in SENT_TEXTS)]:
        for encoding in ("utf-8", "utf-16-le"):
            assert needle.encode(encoding) not in stored, f"found {needle!r} in the database"


async def test_no_text_in_any_table(db: Database) -> None:
    """The same run on each database kind, reading every row of every table back."""
    rules = load_rule_set()
    recorder = recorder_for(db)
    for index, text in enumerate(SENT_TEXTS):
        rule_ids = rules.fired_rule_ids(MessageInput(text=text, conversation_type="channel"))
        recorder.record_message(
            day=DAY,
            conversation_kind="channel",
            department="総務課",
            user_key=f"hash{index}",
            activity_id=f"act{index}",
            rule_ids=rule_ids,
        )
    await recorder.close()

    def dump(conn: sa.Connection) -> str:
        return repr([list(conn.execute(sa.select(table))) for table in metadata.sorted_tables])

    stored = await db.read(dump)
    assert "総務課" in stored and "written-ack" in stored
    for needle in [*SENT_TEXTS, *PERSONAL_DATA]:
        assert needle not in stored


@pytest.mark.parametrize("pause", [0, 1, 2, 3])
async def test_close_during_a_flush_counts_each_message_once(db: Database, pause: int) -> None:
    """Closing while an early flush is writing must neither drop nor double its batch."""
    recorder = recorder_for(db)
    recorder.max_pending_activities = 1  # the first rule-breaking message starts a flush task
    recorder.record_message(
        day=DAY,
        conversation_kind="channel",
        department="総務課",
        user_key="u",
        activity_id="a1",
        rule_ids=["written-ack"],
    )
    for _ in range(pause):  # let the flush get to different points of its writes
        await asyncio.sleep(0)
    await recorder.close()
    assert await totals(db, Metric.MESSAGES) == 1
    assert await totals(db, Metric.RULE_HITS) == 1


async def test_each_nudge_is_counted_once_also_a_second_one_for_an_edited_message(db: Database) -> None:
    """The nudge after an edit has the message's activity id too, but its own nudge id."""
    from datetime import datetime

    from bot.domain import Person
    from bot.services.stats_sink import RecorderSink

    recorder = recorder_for(db)
    noon_in_tokyo = datetime(DAY.year, DAY.month, DAY.day, 3, 0, tzinfo=UTC)
    sink = RecorderSink(recorder, None, clock=lambda: noon_in_tokyo)
    sender = Person(teams_id="29:1a", aad_object_id=None, name="")
    for nudge_id in ("first-nudge", "edit-nudge", "edit-nudge"):  # the last one redelivered
        await sink.nudge_sent(sender, "channel", ["chat-before-phone"], nudge_id)
    await recorder.close()
    assert await totals(db, Metric.NUDGES) == 2
