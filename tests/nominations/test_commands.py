"""Admin commands: start, status, extend, close, remind, export; and who may use them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain import Delivery
from bot.services.nominations import parse_start_argument
from cards import verbs
from tests.nominations.conftest import (
    ADMIN,
    ADMIN_CHAT,
    CHANNEL,
    CHANNEL_ID,
    DIRECTORY,
    ON_BOTH_DATABASES,
    SECOND_CONTACT_D004,
    STAFF,
    TENANT,
    Harness,
    card_text,
    contacts,
    first_submit_data,
    inputs,
    pick,
)
from wg.forms import nominee_field

START_2026 = "キャンペーン開始 2026 2026-05-15"


async def start(h: Harness, text: str = START_2026) -> str:
    answer = await h.say(text)
    assert "開始しました" in card_text(answer[0].card), card_text(answer[0].card)
    campaigns = await h.db.nominations.list_campaigns()
    return campaigns[0].id


@pytest.mark.parametrize(
    ("argument", "year", "deadline"),
    [
        ("", None, None),
        ("2026", 2026, None),
        ("2026 2026-05-15", 2026, date(2026, 5, 15)),
        ("締切 2026-05-15", None, date(2026, 5, 15)),
        ("令和8年度 2026年5月15日", 2026, date(2026, 5, 15)),
        ("r8 2026.5.15", 2026, date(2026, 5, 15)),
        ("2026 2026 05 15", 2026, date(2026, 5, 15)),  # "/" arrives as spaces from the parser
    ],
)
def test_start_arguments_read(argument: str, year: int | None, deadline: date | None) -> None:
    request = parse_start_argument(argument)
    assert (request.error, request.fiscal_year, request.deadline) == (None, year, deadline)


@pytest.mark.parametrize("argument", ["来年", "2026 2026-02-30", "2026-13-01", "fy 2026"])
def test_start_arguments_rejected(argument: str) -> None:
    assert parse_start_argument(argument).error


@ON_BOTH_DATABASES
async def test_start_sends_each_contact_the_wgs_of_their_department(harness: Harness) -> None:
    h = harness
    campaign_id = await start(h)
    stored = await h.db.nominations.get_campaign(campaign_id)
    assert stored is not None
    assert campaign_id == "fy2026" and stored.fiscal_year == 2026
    assert stored.deadline == datetime(2026, 5, 15, 8, 0, tzinfo=UTC)  # 17:00 JST
    # 3 and 1 days before, 9:00 JST
    assert stored.reminder_schedule == (
        datetime(2026, 5, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 5, 14, 0, 0, tzinfo=UTC),
    )
    assert set(stored.wg_ids) == {wg.id for wg in h.catalogue}

    # every contact of every department got exactly one request card with its WGs
    expected_people = [c for d in DIRECTORY for c in d.contacts]
    requests = [o for o in h.sender.sent if o.delivery is Delivery.PERSONAL]
    assert sorted(o.recipient.aad_object_id or "" for o in requests if o.recipient) == sorted(expected_people)
    for outgoing in requests:
        assert outgoing.conversation.kind != "personal"  # the sender opens the person's own chat
        assert outgoing.conversation.tenant_id == TENANT
        assert outgoing.recipient is not None and outgoing.recipient.teams_id == ""

    def wgs_on_card(aad: str) -> set[str]:
        [outgoing] = h.sender.personal_to(aad)
        assert outgoing.card is not None
        return {key.split(".")[0] for key in inputs(outgoing.card)}

    d004 = contacts("D004")
    assert wgs_on_card(d004[0]) == wgs_on_card(SECOND_CONTACT_D004)
    assert wgs_on_card(d004[0]) == {
        "bpr", "seido-digital", "mynumber", "kashikan", "digital-divide", "kanmin-data", "naibu-tosei"
    }  # fmt: skip
    assert wgs_on_card(contacts("D028")[0]) == {"bpr"}  # 秘書課: only ① 全所属
    assert wgs_on_card(contacts("D002")[0]) == {"bpr", "seido-digital", "naibu-tosei"}  # 財政課
    first = h.sender.personal_to(contacts("D028")[0])[0].card
    assert first is not None
    assert first_submit_data(first)["department_code"] == "D028"

    # the open-application WGs go to the channel, once
    [announcement] = [o for o in h.sender.sent if o.conversation.conversation_id == CHANNEL_ID]
    text = card_text(announcement.card)
    assert "ミライズWG" in text and "地域社会のDX推進WG" not in text  # separate recruitment
    # and the admin gets a summary
    summaries = [o for o in h.sender.sent if o.conversation == ADMIN_CHAT]
    assert summaries and f"送信 {len(expected_people)} 件" in (summaries[-1].text or "")


async def test_start_defaults_this_fiscal_year_and_two_weeks(harness: Harness) -> None:
    h = harness
    h.clock.now = datetime(2027, 2, 1, 1, 0, tzinfo=UTC)  # February belongs to fiscal 2026
    await start(h, "キャンペーン開始")
    [stored] = await h.db.nominations.list_campaigns()
    assert stored.fiscal_year == 2026
    assert stored.deadline == datetime(2027, 2, 15, 8, 0, tzinfo=UTC)


async def test_start_twice_for_the_same_year_is_refused(harness: Harness) -> None:
    h = harness
    await start(h)
    h.sender.clear()
    answer = await h.say(START_2026)
    assert "すでに受付中" in card_text(answer[0].card)
    assert len(await h.db.nominations.list_campaigns()) == 1
    assert h.sender.sent == []


async def test_start_with_a_past_deadline_is_refused(harness: Harness) -> None:
    answer = await harness.say("キャンペーン開始 2026 2026-04-01")
    assert "今日より後" in card_text(answer[0].card)
    assert await harness.db.nominations.list_campaigns() == []


@pytest.mark.parametrize(
    "text", ["キャンペーン開始", "状況", "締切延長 2026-06-01", "締切", "リマインド", "エクスポート"]
)
async def test_non_admins_are_refused_and_nothing_happens(harness: Harness, text: str) -> None:
    h = harness
    await start(h)
    h.sender.clear()
    before = await h.db.nominations.list_campaigns()
    answer = await h.say(text, sender=STAFF)
    [reply] = answer
    assert "管理者" in card_text(reply.card)
    assert await h.db.nominations.list_campaigns() == before
    assert h.sender.sent == []
    assert [e.action for e in await h.db.nominations.audit_trail(before[0].id)] == ["create"]


async def test_admin_commands_only_in_a_personal_chat(harness: Harness) -> None:
    answer = await harness.say("キャンペーン開始", conversation=CHANNEL)
    assert "1:1" in card_text(answer[0].card)
    assert answer[0].delivery is Delivery.TARGETED
    assert await harness.db.nominations.list_campaigns() == []


async def test_status_command_and_refresh(harness: Harness) -> None:
    h = harness
    campaign_id = await start(h)
    [answer] = await h.say("状況")
    assert answer.card is not None
    assert answer.card["refresh"]["userIds"] == [ADMIN, "aaaaaaaa-0000-4000-8000-000000000002"]
    text = card_text(answer.card)
    assert f"BPR推進WG　0 / {len(DIRECTORY)} 所属 提出済み" in text
    assert "制度デジタル化WG　0 / 4 所属 提出済み" in text
    assert "公募：応募 0 件" in text

    # a department submits; the admin's refresh shows it
    form = h.sender.personal_to(contacts("D028")[0])[0].card
    assert form is not None
    data = first_submit_data(form)
    from tests.nominations.forms import valid_nomination

    data.update(valid_nomination(h.catalogue, "D028", "秘書課"))
    result, _ = await h.click(verbs.NOMINATION_SUBMIT, data, sender=contacts("D028")[0])
    assert "受け付けました" in card_text(result.card)
    refreshed, _ = await h.click(verbs.CAMPAIGN_STATUS_REFRESH, {"campaign_id": campaign_id}, sender=ADMIN)
    assert f"BPR推進WG　1 / {len(DIRECTORY)} 所属 提出済み" in card_text(refreshed.card)
    assert "提出済み：秘書課" in card_text(refreshed.card)
    # someone else clicking (or auto-refreshing) sees no statuses
    other, _ = await h.click(verbs.CAMPAIGN_STATUS_REFRESH, {"campaign_id": campaign_id}, sender=STAFF)
    assert "秘書課" not in card_text(other.card) and "管理者" in card_text(other.card)


@ON_BOTH_DATABASES
async def test_extend_and_close_are_audited(harness: Harness) -> None:
    h = harness
    campaign_id = await start(h)
    [answer] = await h.say("締切延長 2026-05-22")
    assert "2026年5月22日" in card_text(answer.card)
    stored = await h.db.nominations.get_campaign(campaign_id)
    assert stored is not None and stored.deadline == datetime(2026, 5, 22, 8, 0, tzinfo=UTC)
    [bad] = await h.say("締切延長 そのうち")
    assert "YYYY-MM-DD" in card_text(bad.card)
    [closed] = await h.say("締切")
    assert "受付を終了しました" in card_text(closed.card)
    trail = await h.db.nominations.audit_trail(campaign_id)
    assert [(e.action, e.actor) for e in trail] == [("create", ADMIN), ("extend", ADMIN), ("close", ADMIN)]
    [nothing_open] = await h.say("締切")
    assert "受付中の" in card_text(nothing_open.card)


async def test_closed_campaign_refuses_submissions_on_the_card(harness: Harness) -> None:
    h = harness
    await start(h)
    await h.say("締切")
    form = h.sender.personal_to(contacts("D028")[0])[0].card
    assert form is not None
    data = first_submit_data(form)
    from tests.nominations.forms import valid_nomination

    data.update(valid_nomination(h.catalogue, "D028", "秘書課"))
    result, _ = await h.click(verbs.NOMINATION_SUBMIT, data, sender=contacts("D028")[0])
    assert "締め切られました" in card_text(result.card)
    assert inputs(result.card or {})[nominee_field("bpr", 1, "name")]["value"] == "bpr 担当"  # values kept
    assert await h.db.nominations.list_submissions("fy2026") == []


async def test_export_command_gives_one_time_links_or_the_cli_hint(harness: Harness) -> None:
    h = harness
    await start(h)
    [hint] = await h.say("エクスポート")
    assert "python -m bot.nominations export --campaign fy2026" in card_text(hint.card)
    h.service.enable_export_links(lambda campaign, fmt, by: f"{campaign}-{fmt}-{by[:4]}")
    [links] = await h.say("エクスポート")
    assert links.card is not None
    urls = [a["url"] for a in links.card["actions"]]
    assert urls == [
        "https://bot.example.test/exports/fy2026-xlsx-aaaa",
        "https://bot.example.test/exports/fy2026-csv-aaaa",
    ]


async def test_start_reports_a_missing_channel(harness: Harness) -> None:
    h = harness
    await h.db.conversations.forget(CHANNEL_ID)
    answer = await h.say(START_2026)
    assert "チャンネル" in card_text(answer[0].card)
    assert pick(h.sender.sent, "channel") == []


async def test_the_admin_learns_how_many_request_cards_failed(harness: Harness) -> None:
    h = harness
    h.sender.fail_for = {contacts("D028")[0], SECOND_CONTACT_D004}
    await start(h)
    summary = [o.text for o in h.sender.sent if o.conversation == ADMIN_CHAT and o.text]
    total = sum(len(d.contacts) for d in DIRECTORY)
    assert summary == [
        f"依頼カードの送信が終わりました：送信 {total - 2} 件、失敗 2 件。\n\n公募WGの案内をチャンネルに投稿しました。"
    ]
