"""The weekly digest: its card, its schedule, and one post per slot across replicas and restarts."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import ConversationRef
from bot.stats import StatsRecorder
from bot.stats.chart_png import bar_chart_png
from bot.stats.digest import DigestSchedule, WeeklyDigestJob, digest_view
from bot.stats.queries import StatsQueries, TrendFilter
from bot.storage import Database
from bot.teams.outbound import ConnectorClient, KeepAliveHttp, TeamsSender
from cards.digest import digest_card
from policy_rules.engine import load_rule_set
from tests.harness.fake_connector import FakeConnector
from tests.schemas.check import assert_valid_card

TOKYO = ZoneInfo("Asia/Tokyo")
CHANNEL_ID = "19:digest-channel@thread.tacv2"

# (now in Tokyo, latest slot id, slot start)
SLOTS = [
    (
        "Monday 08:59 is still last week's slot",
        datetime(2026, 11, 23, 8, 59, tzinfo=TOKYO),
        "2026-W47",
        date(2026, 11, 16),
    ),
    (
        "Monday 09:00 opens the new slot",
        datetime(2026, 11, 23, 9, 0, tzinfo=TOKYO),
        "2026-W48",
        date(2026, 11, 23),
    ),
    (
        "Wednesday after a restart: Monday's slot",
        datetime(2026, 11, 25, 15, 0, tzinfo=TOKYO),
        "2026-W48",
        date(2026, 11, 23),
    ),
    ("Sunday night", datetime(2026, 11, 29, 23, 59, tzinfo=TOKYO), "2026-W48", date(2026, 11, 23)),
    (
        "UTC clock, Monday 00:30 UTC = 09:30 JST",
        datetime(2026, 11, 23, 0, 30, tzinfo=ZoneInfo("UTC")),
        "2026-W48",
        date(2026, 11, 23),
    ),
]


@pytest.mark.parametrize(("case", "now", "slot_id", "slot_day"), SLOTS, ids=[s[0] for s in SLOTS])
def test_latest_slot(case: str, now: datetime, slot_id: str, slot_day: date) -> None:
    schedule = DigestSchedule(weekday=0, at=time(9, 0), timezone="Asia/Tokyo")
    slot = schedule.latest_slot(now)
    assert (schedule.slot_id(slot), slot.date()) == (slot_id, slot_day), case


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_bar_chart_is_a_valid_small_png() -> None:
    png = bar_chart_png([3.0, None, 5.5, 0.0, 8.0], width=120, height=40)
    assert png_size(png) == (120, 40)
    idat_length = struct.unpack(">I", png[8 + 25 + 12 + 15 : 8 + 25 + 12 + 15 + 4])[0]
    raw = zlib.decompress(png[8 + 25 + 12 + 15 + 8 : 8 + 25 + 12 + 15 + 8 + idat_length])
    assert len(raw) == 40 * (120 + 1)
    assert 2 in raw  # the latest bar is drawn in the highlight colour
    assert len(png) < 1500


async def seed(db: Database, monday: date, weeks: int = 3) -> None:
    recorder = StatsRecorder(db.stats, db.distinct_users, db.activity_claims)  # type: ignore[arg-type]
    for week in range(weeks):
        day = monday - timedelta(days=7 * (week + 1))
        for person in range(8):
            recorder.record_message(
                day=day,
                conversation_kind="channel",
                department="総務課",
                user_key=f"p{person}",
                activity_id=f"w{week}-p{person}",
                rule_ids=["written-ack"] if person < 4 - week else [],
                nudged_rule_ids=["written-ack"] if person < 4 - week else [],
            )
    await recorder.close()


async def test_digest_card_is_valid_japanese_with_charts(lite_db: Database) -> None:
    monday = date(2026, 11, 23)
    await seed(lite_db, monday)
    queries = StatsQueries(lite_db.stats, lite_db.distinct_users, rule_titles=load_rule_set().short_titles)  # type: ignore[arg-type]
    report = await queries.report(TrendFilter(monday - timedelta(days=56), monday - timedelta(days=1)))
    card = digest_card(
        digest_view(
            report,
            week_label="2026-W47",
            dashboard_url="https://bot.example/dashboard",
            rule_titles=queries.rule_titles(),
        )
    )
    assert_valid_card(card)
    images = [e for e in _walk(card) if e.get("type") == "Image"]
    assert len(images) == 5
    urls = [str(i["url"]) for i in images]
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    png_size(base64.b64decode(urls[0].split(",", 1)[1]))
    texts = " ".join(str(e.get("text", "")) for e in _walk(card))
    assert "今週のふりかえり" in texts
    assert "先週より" in texts  # ack rate went down from 37.5 to 25
    assert "「承知しました」は いいね！で" in str(card)  # the rule's short_title_ja from the YAML
    assert len(str(card).encode()) < 28_000  # Teams' message size limit


def _walk(node: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector(tls=False) as fake:
        yield fake


class Replica:
    """One app process' digest parts: its own Database, HTTP client, sender and job."""

    def __init__(self, db: Database, http: KeepAliveHttp, now: datetime) -> None:
        self.sender = TeamsSender(ConnectorClient(http, None))
        self.now = now
        self.job = WeeklyDigestJob(
            queries=StatsQueries(db.stats, db.distinct_users),  # type: ignore[arg-type]
            job_runs=db.job_runs,
            conversations=db.conversations,
            sender=self.sender,
            channel_id=CHANNEL_ID,
            clock=lambda: self.now,
        )


async def test_digest_is_posted_once_across_two_replicas_and_restarts(
    db: Database, replica: Database, connector: FakeConnector
) -> None:
    await seed(db, date(2026, 11, 23))
    await db.conversations.remember(
        ConversationRef(
            conversation_id=f"{CHANNEL_ID};messageid=1700000000000",
            kind="channel",
            service_url=connector.service_url,
            tenant_id="tenant",
            team_id="19:team@thread.tacv2",
            channel_id=CHANNEL_ID,
            thread_root_id="1700000000000",
        )
    )
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)  # the app was down on Monday morning
    async with KeepAliveHttp() as http_a, KeepAliveHttp() as http_b:
        first, second = Replica(db, http_a, wednesday), Replica(replica, http_b, wednesday)
        results = await asyncio.gather(first.job.run_due(), second.job.run_due())
        assert sum(1 for r in results if r is not None and r.ok) == 1

        restarted = Replica(replica, http_b, wednesday + timedelta(hours=2))
        assert await restarted.job.run_due() is None  # the slot is taken: not sent again

        posts = connector.activity_posts()
        assert len(posts) == 1
        post = posts[0]
        assert post.conversation_id == CHANNEL_ID  # a new post in the channel, not a thread reply
        card = post.body["attachments"][0]["content"]
        assert_valid_card(card)
        assert "2026-W47" in str(card)

        next_monday = Replica(db, http_a, datetime(2026, 11, 30, 9, 1, tzinfo=TOKYO))
        result = await next_monday.job.run_due()
        assert result is not None and result.ok
        assert len(connector.activity_posts()) == 2


async def test_unknown_channel_sends_nothing_and_keeps_the_slot(
    lite_db: Database, connector: FakeConnector
) -> None:
    async with KeepAliveHttp() as http:
        lonely = Replica(lite_db, http, datetime(2026, 11, 23, 9, 5, tzinfo=TOKYO))
        assert await lonely.job.run_due() is None
        assert connector.activity_posts() == []
        assert await lite_db.job_runs.claim_run(
            "weekly-digest", "2026-W48"
        )  # still free for when it is known


async def test_a_digest_that_could_not_be_built_keeps_its_slot(
    lite_db: Database, connector: FakeConnector
) -> None:
    """A failing statistics read must not use up the week's slot: the next run posts it."""
    import sqlalchemy as sa

    from bot.storage.models import metadata

    await lite_db.conversations.remember(
        ConversationRef(
            conversation_id=CHANNEL_ID,
            kind="channel",
            service_url=connector.service_url,
            tenant_id="tenant",
            team_id="19:team@thread.tacv2",
            channel_id=CHANNEL_ID,
        )
    )
    stats_table = metadata.tables["stats_daily"]
    await lite_db.write(lambda conn: stats_table.drop(conn))  # a real read failure, not a mock
    async with KeepAliveHttp() as http:
        replica = Replica(lite_db, http, datetime(2026, 11, 23, 9, 5, tzinfo=TOKYO))
        with pytest.raises(sa.exc.OperationalError):
            await replica.job.run_due()
        assert connector.activity_posts() == []
        await lite_db.write(lambda conn: stats_table.create(conn))
        result = await replica.job.run_due()
        assert result is not None and result.ok
        assert len(connector.activity_posts()) == 1
