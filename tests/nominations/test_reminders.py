"""Reminders: only departments still missing a WG, once per slot, also across replicas."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain import Delivery
from bot.storage import Database
from bot.storage.models import reminder_claims
from cards import verbs
from tests.nominations.conftest import (
    DIRECTORY,
    ON_BOTH_DATABASES,
    Clock,
    Harness,
    RecordingSender,
    card_text,
    contacts,
    first_submit_data,
    make_service,
)
from tests.nominations.forms import valid_nomination

FIRST_SLOT = datetime(2026, 5, 12, 0, 0, tzinfo=UTC)  # 3 days before, 9:00 JST
SECOND_SLOT = datetime(2026, 5, 14, 0, 0, tzinfo=UTC)


def reminded(sender: RecordingSender) -> Counter[str]:
    """How many reminder cards each person got."""
    return Counter(
        o.recipient.aad_object_id or ""
        for o in sender.sent
        if o.delivery is Delivery.PERSONAL and o.recipient and "リマインド" in card_text(o.card)
    )


async def submit_all(h: Harness, code: str) -> None:
    department = DIRECTORY.get(code)
    assert department is not None
    opened, _ = await h.click(
        verbs.NOMINATION_OPEN,
        {"campaign_id": "fy2026", "department_code": code},
        sender=department.contacts[0],
    )
    form = opened.card
    assert form is not None
    data = first_submit_data(form) | valid_nomination(h.catalogue, code, department.name)
    result, _ = await h.click(verbs.NOMINATION_SUBMIT, data, sender=department.contacts[0])
    assert "受け付けました" in card_text(result.card)


@ON_BOTH_DATABASES
async def test_reminders_go_once_per_slot_to_the_missing_only(harness: Harness, replica: Database) -> None:
    h = harness
    await h.say("キャンペーン開始 2026 2026-05-15")
    await submit_all(h, "D028")  # 秘書課: everything it is asked for
    await submit_all(h, "D004")  # 情報政策課, both contacts
    h.sender.clear()

    h.clock.now = FIRST_SLOT - timedelta(minutes=1)
    assert await h.service.send_due_reminders() == 0
    assert reminded(h.sender) == Counter()

    h.clock.now = FIRST_SLOT + timedelta(minutes=1)
    # two replicas at the same time: together one reminder per department
    other_sender = RecordingSender()
    other = make_service(replica, other_sender, Clock(h.clock.now))
    await other.start()
    counts = await asyncio.gather(h.service.send_due_reminders(), other.send_due_reminders())
    expected = {c for d in DIRECTORY for c in d.contacts if d.code not in ("D028", "D004")}
    assert sum(counts) == len(DIRECTORY) - 2
    together = reminded(h.sender) + reminded(other_sender)
    assert set(together) == expected and set(together.values()) == {1}

    # the next minute, and after a restart: nothing more
    h.sender.clear()
    assert await h.service.send_due_reminders() == 0
    restarted_sender = RecordingSender()
    restarted = make_service(h.db, restarted_sender, Clock(h.clock.now + timedelta(hours=1)))
    await restarted.start()
    assert await restarted.send_due_reminders() == 0
    assert reminded(h.sender) == Counter() and reminded(restarted_sender) == Counter()

    # a department that answers in between is not reminded at the next slot
    await submit_all(h, "D029")
    h.clock.now = SECOND_SLOT + timedelta(minutes=5)
    assert await h.service.send_due_reminders() == len(DIRECTORY) - 3
    assert set(reminded(h.sender)) == expected - set(contacts("D029"))
    first = next(o for o in h.sender.sent if o.recipient and o.recipient.aad_object_id == contacts("D001")[0])
    assert first.card is not None
    text = card_text(first.card)
    assert "行政管理課" in text and "制度デジタル化WG" in text and "マイナンバー" not in text
    assert first.card["actions"][0]["verb"] == verbs.NOMINATION_OPEN

    # after the deadline: silence
    h.sender.clear()
    h.clock.now = datetime(2026, 5, 15, 8, 1, tzinfo=UTC)
    assert await h.service.send_due_reminders() == 0
    assert h.sender.sent == []


async def test_remind_command_reminds_now_once_per_command(harness: Harness) -> None:
    h = harness
    await h.say("キャンペーン開始 2026 2026-05-15")
    await submit_all(h, "D028")
    h.sender.clear()
    [answer] = await h.say("リマインド")
    assert f"{len(DIRECTORY) - 1} 所属" in card_text(answer.card)
    assert contacts("D028")[0] not in reminded(h.sender)
    assert set(reminded(h.sender).values()) == {1}


async def test_the_background_loop_sends_and_stops(harness: Harness) -> None:
    h = harness
    await h.say("キャンペーン開始 2026 2026-05-15")
    h.sender.clear()
    h.clock.now = FIRST_SLOT + timedelta(seconds=30)
    h.service.config = type(h.service.config)(
        announcement_channel_id=h.service.config.announcement_channel_id, reminder_interval_seconds=0.01
    )
    stop = asyncio.Event()
    task = asyncio.create_task(h.service.run_reminders(stop))
    for _ in range(200):
        if len(reminded(h.sender)) == sum(len(d.contacts) for d in DIRECTORY):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert set(reminded(h.sender).values()) == {1}
    assert len(reminded(h.sender)) == sum(len(d.contacts) for d in DIRECTORY)


@contextlib.contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The SQL statements every engine sends to its database meanwhile (any thread)."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with lock:
            seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


@ON_BOTH_DATABASES
async def test_a_slot_already_run_costs_no_claims_and_no_status_read(harness: Harness) -> None:
    h = harness
    await h.say("キャンペーン開始 2026 2026-05-15")
    await submit_all(h, "D028")
    h.clock.now = FIRST_SLOT + timedelta(minutes=1)
    with statements_sent() as first:
        assert await h.service.send_due_reminders() == len(DIRECTORY) - 1
    # every department's claim in one statement (one write transaction), not one each
    assert len([s for s in first if "reminder_claims" in s]) == 1
    assert any("submissions" in s for s in first)  # who is missing: read once for the slot

    for minutes in (2, 3, 60):  # the following rounds until the next slot
        h.clock.now = FIRST_SLOT + timedelta(minutes=minutes)
        with statements_sent() as later:
            assert await h.service.send_due_reminders() == 0
        assert [s for s in later if "reminder_claims" in s or "submissions" in s] == []
    claims = await h.db.read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(reminder_claims))
    )
    assert claims.scalar_one() == len(DIRECTORY) - 1

    # the next slot is a new round
    h.clock.now = SECOND_SLOT + timedelta(minutes=1)
    assert await h.service.send_due_reminders() == len(DIRECTORY) - 1
