"""Department forms and open applications: valid, each invalid kind, twice, edited, withdrawn."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from bot.domain import CardAction, Delivery, Person
from bot.services.actions import ActionRegistry
from bot.storage import Database
from cards import verbs
from tests.nominations.conftest import (
    ADMIN,
    CHANNEL,
    ON_BOTH_DATABASES,
    SECOND_CONTACT_D004,
    STAFF,
    Commands,
    Harness,
    RecordingSender,
    card_text,
    chat_of,
    contacts,
    error_after,
    first_submit_data,
    inputs,
    make_service,
)
from tests.nominations.forms import nominee_inputs, person, valid_application, valid_nomination
from wg.forms import nominee_field

D028 = "D028"  # 秘書課: only BPR推進WG (quota 2)
D004 = "D004"  # 情報政策課: BPR and all six ② WGs


async def open_campaign(h: Harness) -> str:
    await h.say("キャンペーン開始 2026 2026-05-15")
    return "fy2026"


def request_form(h: Harness, code: str) -> dict[str, Any]:
    card = h.sender.personal_to(contacts(code)[0])[0].card
    assert card is not None
    return card


def department_name(code: str) -> str:
    from tests.nominations.conftest import DIRECTORY

    found = DIRECTORY.get(code)
    assert found is not None
    return found.name


async def submit(h: Harness, code: str, values: dict[str, str], *, sender: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    data = first_submit_data(request_form(h, code)) | values
    return await h.click(verbs.NOMINATION_SUBMIT, data, sender=sender or contacts(code)[0], **kw)


@ON_BOTH_DATABASES
async def test_valid_submission_is_stored_audited_and_answered_with_the_receipt(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    values = valid_nomination(h.catalogue, D004, "情報政策課")
    result, outgoings = await submit(h, D004, values)
    assert outgoings == []
    text = card_text(result.card)
    assert "推薦を受け付けました" in text and "情報政策課" in text and "bpr 担当" in text
    verbs_on_card = [a["verb"] for a in (result.card or {})["actions"]]
    assert verbs_on_card == [verbs.NOMINATION_EDIT, verbs.NOMINATION_WITHDRAW]
    stored = await h.db.nominations.list_submissions(campaign_id, department_code=D004)
    assert {s.wg_id for s in stored} == {wg.id for wg in h.catalogue.for_department("情報政策課")}
    assert all(s.submitted_by == contacts(D004)[0] and s.version == 1 for s in stored)
    bpr = next(s for s in stored if s.wg_id == "bpr")
    assert [(n.name, n.aad_id, n.position, n.continuing) for n in bpr.nominees] == [
        ("bpr 担当", person(D004, "bpr"), "主任", False)
    ]
    trail = await h.db.nominations.audit_trail(campaign_id, bpr.id)
    assert [(e.action, e.actor) for e in trail] == [("submit", contacts(D004)[0])]


TOO_LONG_NOTE = "あ" * 201

INVALID = [
    # (what, inputs replacing a valid BPR row, field with the error, expected words)
    ("no name", {nominee_field("bpr", 1, "name"): ""}, nominee_field("bpr", 1, "name"), "氏名を入力"),
    ("name too long", {nominee_field("bpr", 1, "name"): "前" * 41}, nominee_field("bpr", 1, "name"), "40文字"),
    ("no person picked", {nominee_field("bpr", 1, "aad"): ""}, nominee_field("bpr", 1, "aad"), "ユーザー検索"),
    ("not an Entra id", {nominee_field("bpr", 1, "aad"): "taro@example"}, nominee_field("bpr", 1, "aad"), "検索から"),
    ("no position", {nominee_field("bpr", 1, "position"): ""}, nominee_field("bpr", 1, "position"), "職名"),
    ("bad status", {nominee_field("bpr", 1, "status"): "maybe"}, nominee_field("bpr", 1, "status"), "継続か新規"),
    ("note too long", {nominee_field("bpr", 1, "note"): TOO_LONG_NOTE}, nominee_field("bpr", 1, "note"), "200文字"),
    (
        "same person twice",
        nominee_inputs("bpr", 2, person(D028, "bpr"), name="同じ人"),
        nominee_field("bpr", 2, "aad"),
        "同じ職員",
    ),
    ("nobody", {nominee_field("bpr", 1, "name"): "", nominee_field("bpr", 1, "aad"): "",
                nominee_field("bpr", 1, "position"): ""}, nominee_field("bpr", 1, "name"), "少なくとも1名"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "change", "field", "words"), INVALID, ids=[case[0] for case in INVALID])
async def test_invalid_submission_shows_the_error_by_the_field_and_stores_nothing(
    harness: Harness, what: str, change: dict[str, str], field: str, words: str
) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    values = valid_nomination(h.catalogue, D028, "秘書課") | change
    result, _ = await submit(h, D028, values)
    assert result.card is not None
    message = error_after(result.card, field)
    assert message is not None and words in message, (what, message)
    shown = inputs(result.card)
    for key, value in values.items():  # nothing typed is lost
        assert shown[key].get("value", "") == value, key
    assert await h.db.nominations.list_submissions(campaign_id, include_withdrawn=True) == []
    assert [e.action for e in await h.db.nominations.audit_trail(campaign_id)] == ["create"]


async def test_over_quota_and_foreign_wg_are_refused(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    over = valid_nomination(h.catalogue, D028, "秘書課") | nominee_inputs("bpr", 3, person(D028, "bpr", 3))
    result, _ = await submit(h, D028, over)
    assert "2名まで" in card_text(result.card)
    foreign = valid_nomination(h.catalogue, D028, "秘書課") | nominee_inputs(
        "seido-digital", 1, person(D028, "x")
    )
    result, _ = await submit(h, D028, foreign)
    assert "推薦対象ではありません" in card_text(result.card)
    assert await h.db.nominations.list_submissions(campaign_id) == []


async def test_same_person_from_two_departments_in_one_wg_is_refused(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    shared = person("D999", "bpr")
    first, _ = await submit(h, D028, nominee_inputs("bpr", 1, shared))
    assert "受け付けました" in card_text(first.card)
    second, _ = await submit(h, "D029", nominee_inputs("bpr", 1, shared))
    message = error_after(second.card or {}, nominee_field("bpr", 1, "aad"))
    assert message is not None and "秘書課" in message
    assert {s.department_code for s in await h.db.nominations.list_submissions(campaign_id)} == {D028}


async def test_only_the_departments_contacts_or_admins_may_submit(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    values = valid_nomination(h.catalogue, D028, "秘書課")
    refused, _ = await submit(h, D028, values, sender=contacts("D029")[0])
    assert "担当者だけ" in card_text(refused.card)
    refused, _ = await submit(h, D028, values, sender=STAFF)
    assert "担当者だけ" in card_text(refused.card)
    assert await h.db.nominations.list_submissions(campaign_id) == []
    by_admin, _ = await submit(h, D028, values, sender=ADMIN)
    assert "受け付けました" in card_text(by_admin.card)
    by_second_contact, _ = await submit(
        h, D004, valid_nomination(h.catalogue, D004, "情報政策課"), sender=SECOND_CONTACT_D004
    )
    assert "受け付けました" in card_text(by_second_contact.card)


@ON_BOTH_DATABASES
async def test_a_retry_and_a_double_click_store_once(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    values = valid_nomination(h.catalogue, D028, "秘書課")
    await submit(h, D028, values, activity_id="invoke-1")
    await submit(h, D028, values, activity_id="invoke-1")  # Teams retry: same activity
    await submit(h, D028, values, activity_id="invoke-2")  # double click on the same form
    [stored] = await h.db.nominations.list_submissions(campaign_id)
    assert stored.version == 1
    assert [e.action for e in await h.db.nominations.audit_trail(campaign_id, stored.id)] == ["submit"]


@ON_BOTH_DATABASES
async def test_edit_then_edit_back_is_kept_with_the_audit_trail(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    original = valid_nomination(h.catalogue, D028, "秘書課")
    await submit(h, D028, original)
    edit_form, _ = await h.click(
        verbs.NOMINATION_EDIT, {"campaign_id": campaign_id, "department_code": D028}, sender=contacts(D028)[0]
    )
    assert edit_form.card is not None
    assert inputs(edit_form.card)[nominee_field("bpr", 1, "name")]["value"] == "bpr 担当"  # prefilled
    changed = original | nominee_inputs("bpr", 2, person(D028, "bpr", 2), name="榛名 次郎")
    data = first_submit_data(edit_form.card) | changed
    receipt, _ = await h.click(verbs.NOMINATION_SUBMIT, data, sender=contacts(D028)[0])
    assert "榛名 次郎" in card_text(receipt.card)
    # and back to the original values, from a fresh edit form: stored again, not taken for a repeat
    again, _ = await h.click(
        verbs.NOMINATION_EDIT, {"campaign_id": campaign_id, "department_code": D028}, sender=contacts(D028)[0]
    )
    assert again.card is not None
    back = first_submit_data(again.card) | original | {nominee_field("bpr", 2, "name"): "",
            nominee_field("bpr", 2, "aad"): "", nominee_field("bpr", 2, "position"): ""}  # fmt: skip
    await h.click(verbs.NOMINATION_SUBMIT, back, sender=contacts(D028)[0])
    [stored] = await h.db.nominations.list_submissions(campaign_id)
    assert stored.version == 3 and [n.name for n in stored.nominees] == ["bpr 担当"]
    trail = await h.db.nominations.audit_trail(campaign_id, stored.id)
    assert [e.action for e in trail] == ["submit", "edit", "edit"]
    assert trail[1].before is not None and trail[1].after is not None
    assert len(trail[1].after["nominees"]) == 2 and len(trail[1].before["nominees"]) == 1


@ON_BOTH_DATABASES
async def test_withdraw_until_the_deadline_only(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    await submit(h, D004, valid_nomination(h.catalogue, D004, "情報政策課"))
    data = {"campaign_id": campaign_id, "department_code": D004}
    result, _ = await h.click(verbs.NOMINATION_WITHDRAW, data, sender=contacts(D004)[0])
    assert "取り下げました" in card_text(result.card)
    assert await h.db.nominations.list_submissions(campaign_id) == []
    withdrawn = await h.db.nominations.list_submissions(campaign_id, include_withdrawn=True)
    assert withdrawn and all(s.status == "withdrawn" for s in withdrawn)
    actions = [e.action for e in await h.db.nominations.audit_trail(campaign_id) if e.entity == "submission"]
    assert actions.count("withdraw") == len(withdrawn)

    await submit(h, D028, valid_nomination(h.catalogue, D028, "秘書課"))
    stored = await h.db.nominations.get_campaign(campaign_id)
    assert stored is not None
    h.clock.now = stored.deadline + timedelta(minutes=1)
    late, _ = await h.click(
        verbs.NOMINATION_WITHDRAW,
        {"campaign_id": campaign_id, "department_code": D028},
        sender=contacts(D028)[0],
    )
    assert late.message and "締め切られました" in late.message
    assert [s.status for s in await h.db.nominations.list_submissions(campaign_id)] == ["submitted"]
    late_submit, _ = await submit(h, "D029", valid_nomination(h.catalogue, "D029", "広報課"))
    assert "締め切られました" in card_text(late_submit.card)


async def test_open_form_prefills_and_after_the_deadline_shows_the_receipt(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    data = {"campaign_id": campaign_id, "department_code": D028}
    empty, _ = await h.click(verbs.NOMINATION_OPEN, data, sender=contacts(D028)[0])
    assert inputs(empty.card or {})[nominee_field("bpr", 1, "name")]["value"] == ""
    await submit(h, D028, valid_nomination(h.catalogue, D028, "秘書課"))
    stored = await h.db.nominations.get_campaign(campaign_id)
    assert stored is not None
    h.clock.now = stored.deadline + timedelta(hours=1)
    closed, _ = await h.click(verbs.NOMINATION_OPEN, data, sender=contacts(D028)[0])
    assert "変更はできません" in card_text(closed.card) and "actions" not in (closed.card or {})


# -- open application ----------------------------------------------------------------------------


async def test_application_from_the_channel_goes_to_the_persons_chat(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    data = {"campaign_id": campaign_id, "wg_id": "mirise"}
    result, outgoings = await h.click(verbs.APPLICATION_OPEN, data, sender=STAFF, conversation=CHANNEL)
    assert "公募WGのご案内" in card_text(result.card)  # the channel post stays as it was
    [private] = outgoings
    assert private.delivery is Delivery.PERSONAL and private.recipient is not None
    assert private.recipient.aad_object_id == STAFF
    assert private.card is not None and "motivation" in inputs(private.card)


@ON_BOTH_DATABASES
async def test_application_valid_invalid_twice_and_withdrawn(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    opened, _ = await h.click(
        verbs.APPLICATION_OPEN, {"campaign_id": campaign_id, "wg_id": "mirise"}, sender=STAFF
    )
    assert opened.card is not None
    base = first_submit_data(opened.card)

    no_agreement = base | valid_application() | {"supervisor_agreed": "false"}
    refused, _ = await h.click(verbs.APPLICATION_SUBMIT, no_agreement, sender=STAFF)
    assert "了承" in (error_after(refused.card or {}, "supervisor_agreed") or "")
    long_motivation = base | valid_application() | {"motivation": "あ" * 401}
    refused, _ = await h.click(verbs.APPLICATION_SUBMIT, long_motivation, sender=STAFF)
    assert "400文字" in (error_after(refused.card or {}, "motivation") or "")
    assert inputs(refused.card or {})["motivation"]["value"] == "あ" * 401
    unknown_theme = base | valid_application() | {"themes": "宇宙開発"}
    refused, _ = await h.click(verbs.APPLICATION_SUBMIT, unknown_theme, sender=STAFF)
    assert "一覧にないテーマ" in (error_after(refused.card or {}, "themes") or "")
    assert await h.db.nominations.list_applications(campaign_id, include_withdrawn=True) == []

    good = base | valid_application()
    for activity in ("app-1", "app-1", "app-2"):
        receipt, _ = await h.click(verbs.APPLICATION_SUBMIT, good, sender=STAFF, activity_id=activity)
        assert "応募を受け付けました" in card_text(receipt.card)
    [stored] = await h.db.nominations.list_applications(campaign_id)
    assert stored.version == 1 and stored.themes == ("複業", "ピアボーナス")
    assert stored.applicant_aad_id == STAFF and stored.department_code == "D001"

    gone, _ = await h.click(
        verbs.APPLICATION_WITHDRAW, {"campaign_id": campaign_id, "wg_id": "mirise"}, sender=STAFF
    )
    assert "応募を取り下げました" in card_text(gone.card)
    assert await h.db.nominations.list_applications(campaign_id) == []
    trail = await h.db.nominations.audit_trail(campaign_id, stored.id)
    assert [e.action for e in trail] == ["submit", "withdraw"]


@ON_BOTH_DATABASES
async def test_an_applicants_position_is_stored_exported_shown_and_prefilled(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    wg = {"campaign_id": campaign_id, "wg_id": "mirise"}
    opened, _ = await h.click(verbs.APPLICATION_OPEN, wg, sender=STAFF)
    assert opened.card is not None
    await h.click(
        verbs.APPLICATION_SUBMIT, first_submit_data(opened.card) | valid_application(), sender=STAFF
    )
    [stored] = await h.db.nominations.list_applications(campaign_id)
    assert stored.position == "主事"

    export = await h.service.export_file(campaign_id, "csv")
    [applicant] = [
        row for row in csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))) if row["区分"] == "公募"
    ]
    assert applicant["職名"] == "主事"

    receipt, _ = await h.click(verbs.APPLICATION_OPEN, wg, sender=STAFF)  # drawn from storage
    assert "職名:主事" in card_text(receipt.card)
    form, _ = await h.click(verbs.APPLICATION_EDIT, wg, sender=STAFF)
    assert form.card is not None
    prefilled = {key: node.get("value", "") for key, node in inputs(form.card).items()}
    assert prefilled["position"] == "主事"
    # 変更する then 送信 without touching anything: accepted, nothing lost
    resubmitted, _ = await h.click(
        verbs.APPLICATION_SUBMIT, first_submit_data(form.card) | prefilled, sender=STAFF
    )
    assert "応募を受け付けました" in card_text(resubmitted.card)
    [again] = await h.db.nominations.list_applications(campaign_id)
    assert (again.version, again.position, again.motivation) == (2, "主事", stored.motivation)


async def test_application_to_a_non_open_wg_is_refused(harness: Harness) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    for wg_id in ("bpr", "chiiki-dx", "nope"):
        data = {"campaign_id": campaign_id, "wg_id": wg_id} | valid_application()
        result, _ = await h.click(verbs.APPLICATION_SUBMIT, data, sender=STAFF)
        assert "受け付けていません" in card_text(result.card)
    assert await h.db.nominations.list_applications(campaign_id) == []


@ON_BOTH_DATABASES
async def test_concurrent_duplicates_and_a_second_replica_store_once(
    harness: Harness, replica: Database
) -> None:
    h = harness
    campaign_id = await open_campaign(h)
    values = valid_nomination(h.catalogue, D004, "情報政策課")
    data = first_submit_data(request_form(h, D004)) | values
    # a double click reaching this replica twice at once, and the Teams retry reaching another
    other = make_service(replica, RecordingSender(), h.clock)
    other_actions = ActionRegistry()
    other.register(other_actions, Commands())
    action = CardAction(
        activity_id="invoke-x",
        conversation=chat_of(contacts(D004)[0]),
        sender=Person("29:x", contacts(D004)[0]),
        verb=verbs.NOMINATION_SUBMIT,
        data={"verb": verbs.NOMINATION_SUBMIT, **data},
    )
    answers = await asyncio.gather(
        h.actions.dispatch(action), h.actions.dispatch(action), other_actions.dispatch(action)
    )
    assert all("受け付けました" in card_text(result.card) for result, _ in answers)
    stored = await h.db.nominations.list_submissions(campaign_id, department_code=D004)
    assert len(stored) == len(h.catalogue.for_department("情報政策課"))
    assert {s.version for s in stored} == {1}
    submits = [e for e in await h.db.nominations.audit_trail(campaign_id) if e.entity == "submission"]
    assert len(submits) == len(stored)
