"""WG nominations: departments, campaigns, idempotent submissions, audit trail, status,
reminder claims, what the export reads, and the migration that added the applicant's 職名."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.storage import (
    Application,
    CampaignClosed,
    Database,
    Department,
    Nominee,
    NotFound,
    Submission,
    WgStatus,
)
from bot.storage.migrate import alembic_config, upgrade_on_connection
from bot.storage.models import applications, metadata, reminder_claims, submissions, submit_actions
from tests.storage.conftest import PostgresDatabases

ADMIN = "aad-admin"
CONTACT = "aad-contact-somu"
OPENS = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 4, 30, 8, 45, tzinfo=UTC)
DURING = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
AFTER = DEADLINE + timedelta(seconds=1)

DEPARTMENTS = [
    Department("somu", "総務課", (CONTACT, "aad-somu-2"), sort_order=1),
    Department("zaisei", "財政課", ("aad-zaisei",), sort_order=2),
    Department("jinji", "職員課", ("aad-jinji", CONTACT), sort_order=3),
]
ALICE = Nominee("前橋 花子", "aad-hanako", "主事", continuing=True, note="昨年度から継続")
BOB = Nominee("赤城 太郎", "aad-taro", "主任")


def names(image: dict[str, Any] | None) -> list[str]:
    """Nominee names in an audit before/after image."""
    assert image is not None
    return [nominee["name"] for nominee in image["nominees"]]


async def seed(db: Database, **overrides: object) -> str:
    await db.nominations.upsert_departments(DEPARTMENTS)
    campaign = await db.nominations.create_campaign(
        fiscal_year=2026,
        wg_ids=["dx-wg", "kouhou-wg", "miraiz-wg"],
        opens_at=OPENS,
        deadline=DEADLINE,
        reminder_schedule=[DEADLINE - timedelta(days=1), DEADLINE - timedelta(days=7)],
        created_by=ADMIN,
        wg_departments={"kouhou-wg": ["zaisei", "somu"], "miraiz-wg": []},
        campaign_id="fy2026",
    )
    return campaign.id


async def test_departments_are_upserted_listed_and_found_by_contact(db: Database) -> None:
    await db.nominations.upsert_departments(DEPARTMENTS)
    await db.nominations.upsert_departments(
        [Department("zaisei", "財政部財政課", (), active=False, sort_order=2)]
    )
    assert [d.code for d in await db.nominations.list_departments()] == ["somu", "jinji"]
    assert [d.code for d in await db.nominations.list_departments(active_only=False)] == [
        "somu",
        "zaisei",
        "jinji",
    ]
    assert await db.nominations.get_department("zaisei") == Department("zaisei", "財政部財政課", (), False, 2)
    assert await db.nominations.get_department("nope") is None
    assert [d.code for d in await db.nominations.departments_for_contact(CONTACT)] == ["somu", "jinji"]


async def test_a_campaign_is_created_extended_closed_and_audited(db: Database) -> None:
    campaign_id = await seed(db)
    campaign = await db.nominations.get_campaign(campaign_id)
    assert campaign is not None
    assert (campaign.fiscal_year, campaign.wg_ids, campaign.status, campaign.deadline) == (
        2026,
        ("dx-wg", "kouhou-wg", "miraiz-wg"),
        "open",
        DEADLINE,
    )
    assert campaign.reminder_schedule == (DEADLINE - timedelta(days=7), DEADLINE - timedelta(days=1))
    assert campaign.wg_departments == {"kouhou-wg": ("zaisei", "somu"), "miraiz-wg": ()}
    closed = await db.nominations.close_campaign(campaign_id, by=ADMIN)
    assert closed.status == "closed"
    assert [c.id for c in await db.nominations.list_campaigns("closed")] == [campaign_id]
    assert await db.nominations.list_campaigns("open") == []
    extended = await db.nominations.extend_deadline(
        campaign_id, DEADLINE + timedelta(days=3), by="aad-admin-2"
    )
    assert (extended.status, extended.deadline) == ("open", DEADLINE + timedelta(days=3))
    trail = await db.nominations.audit_trail(campaign_id)
    assert [(e.entity, e.action, e.actor) for e in trail] == [
        ("campaign", "create", ADMIN),
        ("campaign", "close", ADMIN),
        ("campaign", "extend", "aad-admin-2"),
    ]
    assert trail[2].before is not None and trail[2].after is not None
    assert (trail[2].before["status"], trail[2].after["status"]) == ("closed", "open")
    assert trail[2].after["deadline"] == (DEADLINE + timedelta(days=3)).isoformat()


async def test_a_campaign_needs_its_deadline_after_its_opening(db: Database) -> None:
    with pytest.raises(ValueError):
        await db.nominations.create_campaign(
            fiscal_year=2026,
            wg_ids=["x"],
            opens_at=OPENS,
            deadline=OPENS,
            reminder_schedule=[],
            created_by=ADMIN,
        )


async def test_a_repeated_submit_stores_once(db: Database) -> None:
    campaign_id = await seed(db)
    first, created = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [ALICE, BOB], by=CONTACT, idempotency_key="act-1", now=DURING
    )
    again, created_again = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [BOB], by=CONTACT, idempotency_key="act-1", now=DURING
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.nominees == (ALICE, BOB) and first.version == 1 and first.status == "submitted"
    trail = await db.nominations.audit_trail(campaign_id, first.id)
    assert [(e.action, e.actor) for e in trail] == [("submit", CONTACT)]
    assert trail[0].before is None
    assert names(trail[0].after) == ["前橋 花子", "赤城 太郎"]


async def test_concurrent_retries_of_one_submit_on_two_replicas_store_once(
    db: Database, replica: Database
) -> None:
    campaign_id = await seed(db)
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.submit(
                campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key="teams-retry", now=DURING
            )
            for i in range(12)
        )
    )
    assert [created for _, created in results].count(True) == 1
    assert len({sub.id for sub, _ in results}) == 1
    assert len(await db.nominations.audit_trail(campaign_id, results[0][0].id)) == 1


async def test_concurrent_different_submits_for_one_wg_keep_one_row_and_every_change(
    db: Database, replica: Database
) -> None:
    campaign_id = await seed(db)
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.submit(
                campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key=f"act-{i}", now=DURING
            )
            for i in range(8)
        )
    )
    assert all(created for _, created in results)
    assert len({sub.id for sub, _ in results}) == 1
    stored = await db.nominations.find_submission(campaign_id, "somu", "dx-wg")
    assert stored is not None and stored.version == 8
    actions = [e.action for e in await db.nominations.audit_trail(campaign_id, stored.id)]
    assert actions == ["submit"] + ["edit"] * 7


async def test_refused_submissions_among_concurrent_ones_fail_alone(db: Database, replica: Database) -> None:
    campaign_id = await seed(db)
    good = [
        db.nominations.submit(
            campaign_id, dept, wg, [ALICE], by=CONTACT, idempotency_key=f"{dept}/{wg}", now=DURING
        )
        for dept in ("somu", "zaisei", "jinji")
        for wg in ("dx-wg", "kouhou-wg")
    ]
    bad = [
        db.nominations.submit(
            campaign_id, "nope", "dx-wg", [ALICE], by=CONTACT, idempotency_key="bad-1", now=DURING
        ),
        db.nominations.submit(
            campaign_id, "somu", "nope-wg", [ALICE], by=CONTACT, idempotency_key="bad-2", now=DURING
        ),
        db.nominations.submit(
            campaign_id, "somu", "miraiz-wg", [BOB], by=CONTACT, idempotency_key="bad-3", now=AFTER
        ),
    ]
    results = await asyncio.gather(*good[:3], *bad, *good[3:], return_exceptions=True)
    assert [type(r).__name__ for r in results[3:6]] == ["NotFound", "NotFound", "CampaignClosed"]
    assert all(isinstance(r, tuple) and r[1] for r in results[:3] + results[6:])
    stored = await replica.nominations.list_submissions(campaign_id)
    assert len(stored) == 6 and {s.nominees for s in stored} == {(ALICE,)}
    assert len(await replica.nominations.audit_trail(campaign_id)) == 1 + 6  # the campaign, then six submits


async def withdraw(db: Database, submission_id: str, *, by: str, now: datetime) -> Submission:
    """One withdrawal, through the repository's withdraw_many."""
    [withdrawn] = await db.nominations.withdraw_many([submission_id], by=by, now=now)
    return withdrawn


async def test_edit_withdraw_and_resubmit_are_audited(db: Database) -> None:
    campaign_id = await seed(db)
    sub, _ = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key="a", now=DURING
    )
    edited = await db.nominations.edit(sub.id, [BOB], by="aad-somu-2", now=DURING)
    assert (edited.nominees, edited.version, edited.submitted_by) == ((BOB,), 2, "aad-somu-2")
    withdrawn = await withdraw(db, sub.id, by=CONTACT, now=DURING)
    assert (withdrawn.status, withdrawn.version) == ("withdrawn", 3)
    assert await withdraw(db, sub.id, by=CONTACT, now=DURING) == withdrawn  # second click: no change
    assert await db.nominations.list_submissions(campaign_id) == []
    assert len(await db.nominations.list_submissions(campaign_id, include_withdrawn=True)) == 1
    again, created = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key="b", now=DURING
    )
    assert created and again.id == sub.id and again.status == "submitted" and again.version == 4
    trail = await db.nominations.audit_trail(campaign_id, sub.id)
    assert [(e.action, e.actor) for e in trail] == [
        ("submit", CONTACT),
        ("edit", "aad-somu-2"),
        ("withdraw", CONTACT),
        ("submit", CONTACT),
    ]
    assert [names(e.before) for e in trail[1:2]] == [["前橋 花子"]]
    assert [names(e.after) for e in trail[1:2]] == [["赤城 太郎"]]


async def test_an_edit_with_a_repeated_key_is_applied_once(db: Database) -> None:
    campaign_id = await seed(db)
    sub, _ = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key="s", now=DURING
    )
    await db.nominations.edit(sub.id, [BOB], by=CONTACT, idempotency_key="e", now=DURING)
    repeated = await db.nominations.edit(sub.id, [BOB], by=CONTACT, idempotency_key="e", now=DURING)
    assert repeated.version == 2


@pytest.mark.parametrize(
    ("close", "now", "reason"),
    [
        (False, AFTER, "deadline"),
        (True, DURING, "closed"),
        (False, OPENS - timedelta(minutes=1), "not-open-yet"),
    ],
)
async def test_a_campaign_not_accepting_changes_stores_nothing(
    db: Database, close: bool, now: datetime, reason: str
) -> None:
    campaign_id = await seed(db)
    sub, _ = await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [ALICE], by=CONTACT, idempotency_key="ok", now=DURING
    )
    if close:
        await db.nominations.close_campaign(campaign_id, by=ADMIN)
    attempts = [
        db.nominations.submit(
            campaign_id, "zaisei", "dx-wg", [BOB], by="aad-zaisei", idempotency_key="late", now=now
        ),
        db.nominations.edit(sub.id, [BOB], by=CONTACT, now=now),
        withdraw(db, sub.id, by=CONTACT, now=now),
        db.nominations.apply(
            campaign_id,
            "aad-x",
            applicant_name="x",
            wg_id="miraiz-wg",
            themes=["ABW"],
            motivation="m",
            supervisor_agreed=True,
            idempotency_key="late-app",
            now=now,
        ),
    ]
    for attempt in attempts:
        with pytest.raises(CampaignClosed) as raised:
            await attempt
        assert raised.value.reason == reason
    assert [s.nominees for s in await db.nominations.list_submissions(campaign_id)] == [(ALICE,)]
    keys = await db.read(
        lambda conn: list(conn.execute(sa.select(submit_actions.c.idempotency_key)).scalars())
    )
    assert keys == ["ok"]  # the refused keys were not used up


@pytest.mark.parametrize(
    ("campaign", "department", "wg", "what"),
    [
        ("nope", "somu", "dx-wg", "campaign"),
        ("fy2026", "nope", "dx-wg", "department"),
        ("fy2026", "somu", "nope-wg", "WG in campaign fy2026"),
    ],
)
async def test_submitting_to_something_unknown_is_not_found(
    db: Database, campaign: str, department: str, wg: str, what: str
) -> None:
    await seed(db)
    with pytest.raises(NotFound) as raised:
        await db.nominations.submit(
            campaign, department, wg, [ALICE], by=CONTACT, idempotency_key="k", now=DURING
        )
    assert raised.value.what == what
    assert (
        await db.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar())
        == 0
    )


async def test_editing_an_unknown_submission_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await db.nominations.edit("missing", [ALICE], by=CONTACT, now=DURING)
    with pytest.raises(NotFound):
        await withdraw(db, "missing", by=CONTACT, now=DURING)


async def apply(
    db: Database, campaign_id: str, key: str, motivation: str = "窓口を変えたい"
) -> tuple[Application, bool]:
    return await db.nominations.apply(
        campaign_id,
        "aad-hanako",
        applicant_name="前橋 花子",
        department_code="somu",
        position="主事",
        wg_id="miraiz-wg",
        themes=["ABW", "窓口"],
        motivation=motivation,
        supervisor_agreed=True,
        idempotency_key=key,
        now=DURING,
    )


async def test_an_open_application_is_stored_once_replaced_and_withdrawn(db: Database) -> None:
    campaign_id = await seed(db)
    first, created = await apply(db, campaign_id, "app-1")
    again, created_again = await apply(db, campaign_id, "app-1", motivation="ignored")
    assert (created, created_again) == (True, False) and again == first
    replaced, created = await apply(db, campaign_id, "app-2", motivation="人材バンクも")
    assert (
        created
        and replaced.id == first.id
        and replaced.motivation == "人材バンクも"
        and replaced.version == 2
    )
    stored = await db.nominations.get_application(campaign_id, "aad-hanako")
    assert stored is not None and stored.themes == ("ABW", "窓口") and stored.supervisor_agreed is True
    withdrawn = await db.nominations.withdraw_application(stored.id, by="aad-hanako", now=DURING)
    assert withdrawn.status == "withdrawn"
    assert await db.nominations.list_applications(campaign_id) == []
    actions = [e.action for e in await db.nominations.audit_trail(campaign_id, stored.id)]
    assert actions == ["submit", "edit", "withdraw"]


async def test_status_lists_who_submitted_and_who_has_not(db: Database) -> None:
    campaign_id = await seed(db)
    for dept, wg, key in [
        ("somu", "dx-wg", "1"),
        ("jinji", "dx-wg", "2"),
        ("somu", "kouhou-wg", "3"),
        ("jinji", "kouhou-wg", "4"),
    ]:
        await db.nominations.submit(
            campaign_id, dept, wg, [ALICE], by=CONTACT, idempotency_key=key, now=DURING
        )
    withdrawn = await db.nominations.find_submission(campaign_id, "jinji", "dx-wg")
    assert withdrawn is not None
    await withdraw(db, withdrawn.id, by=CONTACT, now=DURING)
    await apply(db, campaign_id, "app")
    assert await db.nominations.status(campaign_id) == [
        WgStatus("dx-wg", submitted=("somu",), missing=("zaisei", "jinji"), applications=0),
        # jinji is not among kouhou-wg's departments but submitted anyway: listed after them
        WgStatus("kouhou-wg", submitted=("somu", "jinji"), missing=("zaisei",), applications=0),
        WgStatus("miraiz-wg", submitted=(), missing=(), applications=1),
    ]
    with pytest.raises(NotFound):
        await db.nominations.status("nope")


async def test_a_reminder_is_claimed_once_across_replicas(db: Database, replica: Database) -> None:
    # (was one claim_reminder call per department; the claims are now one call per slot)
    campaign_id = await seed(db)
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.claim_reminders(
                campaign_id, ["zaisei"], "2026-04-23T00:00Z"
            )
            for i in range(16)
        )
    )
    assert [claimed for claimed in results if claimed] == [{"zaisei"}]
    assert await db.nominations.claim_reminders(campaign_id, ["zaisei"], "2026-04-29T00:00Z") == {"zaisei"}
    assert await db.nominations.claim_reminders(
        campaign_id, ["somu", "zaisei", "somu"], "2026-04-23T00:00Z"
    ) == {"somu"}
    assert await db.nominations.claim_reminders(campaign_id, [], "2026-04-23T00:00Z") == set()


async def test_overlapping_reminder_batches_on_two_replicas_claim_each_department_once(
    db: Database, replica: Database
) -> None:
    campaign_id = await seed(db)
    codes = [f"d{i:03d}" for i in range(120)]
    batches = [codes[i * 10 :] + codes[: i * 10] for i in range(12)]  # every order a replica might see
    for batch in batches[::2]:
        batch.reverse()
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.claim_reminders(campaign_id, batch, "slot-1")
            for i, batch in enumerate(batches)
        )
    )
    claimed = [code for result in results for code in result]
    assert sorted(claimed) == codes  # each exactly once, and no deadlock between the batches
    stored = await db.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(reminder_claims)))
    assert stored.scalar_one() == len(codes)


async def test_the_export_reads_the_active_nominees_and_applications(db: Database) -> None:
    # Was a test of Nominations.export_rows, a second copy of wg.export.export_rows; the export
    # now reads list_submissions / list_applications, so this checks they give it what it needs.
    campaign_id = await seed(db)
    await db.nominations.submit(
        campaign_id, "zaisei", "dx-wg", [BOB], by="aad-zaisei", idempotency_key="1", now=DURING
    )
    await db.nominations.submit(
        campaign_id, "somu", "dx-wg", [BOB, ALICE], by=CONTACT, idempotency_key="2", now=DURING
    )
    gone, _ = await db.nominations.submit(
        campaign_id, "somu", "kouhou-wg", [ALICE], by=CONTACT, idempotency_key="3", now=DURING
    )
    await withdraw(db, gone.id, by=CONTACT, now=DURING)
    await apply(db, campaign_id, "app")
    submitted = await db.nominations.list_submissions(campaign_id)
    rows = [
        (s.wg_id, s.department_code, n.name, n.position, n.continuing) for s in submitted for n in s.nominees
    ]
    assert rows == [
        ("dx-wg", "somu", "赤城 太郎", "主任", False),
        ("dx-wg", "somu", "前橋 花子", "主事", True),
        ("dx-wg", "zaisei", "赤城 太郎", "主任", False),
    ]
    assert submitted[0].nominees[1].note == "昨年度から継続" and submitted[0].submitted_by == CONTACT
    [application] = await db.nominations.list_applications(campaign_id)
    assert (
        application.wg_id,
        application.department_code,
        application.applicant_name,
        application.position,
        application.themes,
        application.motivation,
        application.supervisor_agreed,
    ) == ("miraiz-wg", "somu", "前橋 花子", "主事", ("ABW", "窓口"), "窓口を変えたい", True)


async def test_an_applications_position_is_stored_replaced_and_audited(db: Database) -> None:
    campaign_id = await seed(db)
    first, _ = await apply(db, campaign_id, "app-1")
    assert first.position == "主事"
    replaced, _ = await db.nominations.apply(
        campaign_id,
        "aad-hanako",
        applicant_name="前橋 花子",
        department_code="somu",
        position="主任",
        wg_id="miraiz-wg",
        themes=["ABW"],
        motivation="窓口を変えたい",
        supervisor_agreed=True,
        idempotency_key="app-2",
        now=DURING,
    )
    stored = await db.nominations.get_application(campaign_id, "aad-hanako")
    assert stored is not None and stored.position == replaced.position == "主任"
    edit = (await db.nominations.audit_trail(campaign_id, first.id))[-1]
    assert edit.before is not None and edit.after is not None
    assert (edit.before["position"], edit.after["position"]) == ("主事", "主任")


async def test_withdraw_many_withdraws_all_in_one_transaction_or_none(db: Database) -> None:
    campaign_id = await seed(db)
    stored = [
        (
            await db.nominations.submit(
                campaign_id, "somu", wg, [ALICE], by=CONTACT, idempotency_key=wg, now=DURING
            )
        )[0]
        for wg in ("dx-wg", "kouhou-wg")
    ]
    ids = [s.id for s in stored]
    with pytest.raises(NotFound):
        await db.nominations.withdraw_many([ids[0], "missing", ids[1]], by=CONTACT, now=DURING)
    with pytest.raises(CampaignClosed):
        await db.nominations.withdraw_many(ids, by=CONTACT, now=AFTER)
    assert [s.status for s in await db.nominations.list_submissions(campaign_id)] == [
        "submitted",
        "submitted",
    ]
    assert not [e for e in await db.nominations.audit_trail(campaign_id) if e.action == "withdraw"]

    withdrawn = await db.nominations.withdraw_many(ids[::-1], by=CONTACT, now=DURING)
    assert [w.id for w in withdrawn] == ids[::-1] and {w.status for w in withdrawn} == {"withdrawn"}
    assert await db.nominations.list_submissions(campaign_id) == []
    again = await db.nominations.withdraw_many(ids, by=CONTACT, now=DURING)  # idempotent
    assert [w.version for w in again] == [2, 2]
    assert [
        e.entity_id for e in await db.nominations.audit_trail(campaign_id) if e.action == "withdraw"
    ] == ids[::-1]
    assert await db.nominations.withdraw_many([], by=CONTACT, now=DURING) == []


# -- a whole department form in one transaction (submit_form) ---------------------------------

FORM = [("dx-wg", [ALICE]), ("kouhou-wg", [BOB])]


async def stored_keys(db: Database) -> list[str]:
    return await db.read(
        lambda conn: sorted(conn.execute(sa.select(submit_actions.c.idempotency_key)).scalars())
    )


async def test_a_form_stores_every_wg_once_and_a_repeat_changes_nothing(db: Database) -> None:
    campaign_id = await seed(db)
    first = await db.nominations.submit_form(
        campaign_id, "somu", FORM, by=CONTACT, idempotency_key="form-1", now=DURING
    )
    again = await db.nominations.submit_form(
        campaign_id, "somu", [("dx-wg", [BOB]), ("kouhou-wg", [ALICE])], by=CONTACT, idempotency_key="form-1"
    )
    assert [(s.wg_id, s.nominees, s.version, created) for s, created in first] == [
        ("dx-wg", (ALICE,), 1, True),
        ("kouhou-wg", (BOB,), 1, True),
    ]
    assert again == [(s, False) for s, _ in first]
    assert await stored_keys(db) == ["form-1:dx-wg", "form-1:kouhou-wg"]
    trail = await db.nominations.audit_trail(campaign_id)
    assert [(e.entity, e.entity_id, e.action) for e in trail[1:]] == [
        ("submission", first[0][0].id, "submit"),
        ("submission", first[1][0].id, "submit"),
    ]


async def test_a_second_form_replaces_each_wg_and_is_audited_as_edits(db: Database) -> None:
    campaign_id = await seed(db)
    first = await db.nominations.submit_form(
        campaign_id, "somu", FORM, by=CONTACT, idempotency_key="form-1", now=DURING
    )
    second = await db.nominations.submit_form(
        campaign_id,
        "somu",
        [("dx-wg", [BOB]), ("kouhou-wg", [])],
        by="aad-somu-2",
        idempotency_key="form-2",
        now=DURING,
    )
    assert [(s.id, s.nominees, s.version, s.submitted_by) for s, _ in second] == [
        (first[0][0].id, (BOB,), 2, "aad-somu-2"),
        (first[1][0].id, (), 2, "aad-somu-2"),
    ]
    trail = await db.nominations.audit_trail(campaign_id, first[0][0].id)
    assert [(e.action, e.actor) for e in trail] == [("submit", CONTACT), ("edit", "aad-somu-2")]
    assert (names(trail[1].before), names(trail[1].after)) == (["前橋 花子"], ["赤城 太郎"])


@pytest.mark.parametrize(
    ("form", "now", "error"),
    [
        ([("dx-wg", [ALICE]), ("nope-wg", [BOB])], DURING, NotFound),
        (FORM, AFTER, CampaignClosed),
    ],
)
async def test_a_refused_form_stores_nothing_of_any_wg(
    db: Database, form: list[tuple[str, list[Nominee]]], now: datetime, error: type[Exception]
) -> None:
    campaign_id = await seed(db)
    with pytest.raises(error):
        await db.nominations.submit_form(campaign_id, "somu", form, by=CONTACT, idempotency_key="f", now=now)
    assert await db.nominations.list_submissions(campaign_id) == []
    assert await stored_keys(db) == []  # the keys were not used up
    assert len(await db.nominations.audit_trail(campaign_id)) == 1  # the campaign's creation only


async def test_a_repeated_form_still_answers_after_the_deadline(db: Database) -> None:
    campaign_id = await seed(db)
    first = await db.nominations.submit_form(
        campaign_id, "somu", FORM, by=CONTACT, idempotency_key="f", now=DURING
    )
    late = await db.nominations.submit_form(
        campaign_id, "somu", FORM, by=CONTACT, idempotency_key="f", now=AFTER
    )
    assert late == [(s, False) for s, _ in first]


async def test_copies_of_one_form_on_two_replicas_store_once(db: Database, replica: Database) -> None:
    campaign_id = await seed(db)
    results = await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.submit_form(
                campaign_id, "somu", FORM, by=CONTACT, idempotency_key="double-click", now=DURING
            )
            for i in range(10)
        )
    )
    assert [all(created for _, created in outcome) for outcome in results].count(True) == 1
    assert [any(created for _, created in outcome) for outcome in results].count(True) == 1
    assert len({s.id for outcome in results for s, _ in outcome}) == 2
    assert len(await db.nominations.audit_trail(campaign_id)) == 1 + 2


async def test_different_forms_of_one_department_on_two_replicas_keep_every_change(
    db: Database, replica: Database
) -> None:
    campaign_id = await seed(db)
    await asyncio.gather(
        *(
            (db if i % 2 else replica).nominations.submit_form(
                campaign_id, "somu", FORM, by=CONTACT, idempotency_key=f"form-{i}", now=DURING
            )
            for i in range(6)
        )
    )
    stored = await db.nominations.list_submissions(campaign_id)
    assert [(s.wg_id, s.version) for s in stored] == [("dx-wg", 6), ("kouhou-wg", 6)]
    for submission in stored:
        actions = [e.action for e in await db.nominations.audit_trail(campaign_id, submission.id)]
        assert actions == ["submit"] + ["edit"] * 5


# -- migration 0002: applications keep the applicant's 職名 ----------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, not migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.create()


def _downgrade(conn: sa.Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.downgrade(config, revision)


def _schema_diff(conn: sa.Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


def _insert_old_application(conn: sa.Connection, campaign_id: str) -> None:
    """An application as revision 0001 stored it: no position column."""
    conn.execute(
        sa.insert(applications).values(
            id="old-app",
            campaign_id=campaign_id,
            applicant_aad_id="aad-hanako",
            applicant_name="前橋 花子",
            department_code="somu",
            wg_id="miraiz-wg",
            themes=["ABW"],
            motivation="窓口を変えたい",
            supervisor_agreed=True,
            status="submitted",
            version=1,
            created_at=DURING,
            updated_at=DURING,
        )
    )


async def test_the_position_migration_keeps_earlier_applications_and_can_be_undone(
    fresh_database_url: str,
) -> None:
    db = Database.connect(fresh_database_url)
    try:
        await db.write(upgrade_on_connection, "0001")
        campaign_id = await seed(db)
        await db.write(_insert_old_application, campaign_id)

        await db.migrate()
        assert await db.read(_schema_diff) == []  # the upgraded schema is the models' one
        old = await db.nominations.get_application(campaign_id, "aad-hanako")
        assert old is not None and old.position == "" and old.motivation == "窓口を変えたい"
        replaced, _ = await apply(db, campaign_id, "app-1")
        assert replaced.id == "old-app" and replaced.position == "主事"

        await db.write(_downgrade, "0001")
        assert await db.current_revision() == "0001"
        kept = await db.read(
            lambda conn: conn.execute(sa.text("SELECT id, motivation FROM applications")).all()
        )
        assert [tuple(row) for row in kept] == [("old-app", "窓口を変えたい")]
        await db.migrate()  # and up again
        again = await db.nominations.get_application(campaign_id, "aad-hanako")
        assert again is not None and again.position == "" and again.version == 2
    finally:
        await db.close()
