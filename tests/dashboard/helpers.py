"""A running dashboard over real sockets: the aiohttp app, real storage, the Entra sign-in stand-in."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from aiohttp import web

from bot.dashboard import DashboardConfig, setup_dashboard
from bot.dashboard.config import CampaignProgress
from bot.stats import StatsRecorder
from bot.stats.marks import MarkStore
from bot.stats.queries import StatsQueries
from bot.storage import Database
from policy_rules.engine import load_rule_set
from tests.harness.tls import serve_on_loopback

CLIENT_ID = "99999999-8888-7777-6666-555555555555"
CLIENT_SECRET = "dashboard-test-secret"
ADMIN_OID = "aaaaaaaa-0000-0000-0000-000000000001"
OTHER_OID = "bbbbbbbb-0000-0000-0000-000000000002"
SESSION_SECRET = b"0123456789abcdef0123456789abcdef-test"

_ids = itertools.count()


async def seed_stats(db: Database, today: date, weeks: int = 6) -> None:
    """Two big departments with different habits, one small one, over several weeks."""
    recorder = StatsRecorder(db.stats, db.distinct_users, db.activity_claims)  # type: ignore[arg-type]
    for week in range(weeks):
        day = today - timedelta(days=7 * week + 1)
        for department, people, ack_every in (("総務課", 9, 2), ("税務課", 6, 5), ("小さな係", 2, 1)):
            for person in range(people):
                for message in range(3):
                    hit = (person + message + week) % ack_every == 0
                    recorder.record_message(
                        day=day,
                        conversation_kind="personal" if message == 2 else "channel",
                        department=department,
                        user_key=f"{department}-{person}",
                        activity_id=f"seed-{next(_ids)}",
                        rule_ids=["written-ack"] if hit else [],
                        nudged_rule_ids=["written-ack"] if hit else [],
                        is_question=message == 1,
                    )
        for person in range(6):
            recorder.record_feedback(
                day=day,
                conversation_kind="channel",
                department="総務課",
                rule_ids=["written-ack"],
                helpful=person % 3 != 0,
                user_key=f"総務課-{person}",
                activity_id=f"fb-{next(_ids)}",
            )
    await recorder.close()


async def campaigns() -> list[CampaignProgress]:
    """A campaign status provider with one WG half done."""
    return [CampaignProgress("c2026", 2026, "DX推進WG", submitted=40, expected=80, applications=3)]


async def start_dashboard(
    db: Database, *, authority: str = "", marks: MarkStore | bool = False, local: bool = False
) -> tuple[web.AppRunner, str]:
    """The dashboard on an ephemeral loopback port; returns the runner and its base URL.

    ``marks``: True keeps them in ``db``; a MarkStore keeps them there; False offers none.
    """
    config = DashboardConfig(
        session_secret=SESSION_SECRET,
        admin_object_ids=frozenset({ADMIN_OID.upper()}),
        client_id="" if local else CLIENT_ID,
        client_secret="" if local else CLIENT_SECRET,
        authority=authority,
    )
    app = web.Application()
    store = MarkStore(db.marks) if marks is True else marks or None
    setup_dashboard(
        app,
        config=config,
        stats_queries=StatsQueries(  # type: ignore[arg-type]
            db.stats, db.distinct_users, store, rule_titles=load_rule_set().short_titles
        ),
        marks=store,
        campaign_status_provider=campaigns,
    )
    runner, port = await serve_on_loopback(app, None)
    return runner, f"http://127.0.0.1:{port}"
