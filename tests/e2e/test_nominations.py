"""WG nominations end to end: admin commands and card forms through the real endpoint and storage.

The department directory is the shipped sample (``wg/departments_sample.csv``): 行政管理課 (D001)
has one contact and 情報政策課 (D004) two; the other departments have none, so a campaign start
sends three request cards. Tests that need more (a department outside every ② list with a
contact, export links, an announcement channel) use ``configured_stack``: a copy of the sample
with a contact for D080, plus ``PUBLIC_BASE_URL`` and ``WG_ANNOUNCEMENT_CHANNEL_ID``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from cards import verbs
from tests.e2e.conftest import (
    ADMIN_AAD,
    Stack,
    Staff,
    card_of,
    card_text,
    count_rows,
    query,
    start_stack,
    stop_stack,
)
from tests.harness.fake_connector import RecordedRequest
from tests.harness.tls import TestCA
from tests.schemas.check import assert_valid_card

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "wg" / "departments_sample.csv"

ADMIN = Staff("29:1admin", ADMIN_AAD, "前橋 太郎")
GYOSEI = Staff("29:1gyosei", "00000000-0000-4000-8000-000000000003", "利根 さくら")  # 行政管理課 D001
JOHO_1 = Staff("29:1joho1", "00000000-0000-4000-8000-000000000001", "榛名 一郎")  # 情報政策課 D004
JOHO_2 = Staff("29:1joho2", "00000000-0000-4000-8000-000000000002", "妙義 二郎")  # 情報政策課 D004
OUTSIDER = Staff("29:1outsider", "33333333-4444-4555-8666-777777777777", "大胡 三郎")  # nobody's contact
SAMPLE_CONTACTS = {GYOSEI.aad, JOHO_1.aad, JOHO_2.aad}

# Nominees (Entra ids as the people picker gives them).
NOMINEE_A = "aaaaaaaa-1111-4111-8111-000000000001"
NOMINEE_B = "aaaaaaaa-1111-4111-8111-000000000002"
NOMINEE_C = "aaaaaaaa-1111-4111-8111-000000000003"
NOMINEE_D = "aaaaaaaa-1111-4111-8111-000000000004"

# A department of the sample outside every ② list, given a contact for the BPR-only case.
BPR_ONLY_CODE = "D080"
BPR_ONLY = Staff("29:1bpronly", "00000000-0000-4000-8000-000000000080", "粕川 四郎")

CHANNEL_ID = "19:general@thread.tacv2"  # where the open-application WGs are announced
REQUEST_TITLE = "のお願い"  # heading of the department form


# -- helpers -----------------------------------------------------------------------------------


def walk(node: Any) -> list[dict[str, Any]]:
    """Every dict inside a card, depth first in document order."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for item in node:
            found += walk(item)
    return found


def execute_data(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The ``data`` of the card's Action.Execute with this verb."""
    for node in walk(card):
        if node.get("type") == "Action.Execute" and node.get("verb") == verb:
            return dict(node.get("data") or {})
    raise AssertionError(f"no Action.Execute {verb} on the card: {card_text(card)[:400]}")


def input_values(card: dict[str, Any]) -> dict[str, str]:
    """What Teams submits for the card's inputs as drawn (id -> current value)."""
    return {
        node["id"]: str(node.get("value", ""))
        for node in walk(card)
        if str(node.get("type", "")).startswith("Input.") and "id" in node
    }


def input_ids(card: dict[str, Any]) -> list[str]:
    """The ids of the card's inputs, in order."""
    return [node["id"] for node in walk(card) if str(node.get("type", "")).startswith("Input.")]


def error_after(card: dict[str, Any], input_id: str) -> str | None:
    """The error text drawn right after an input (``with_errors`` puts it next to the field)."""
    for node in walk(card):
        for key in ("body", "items"):
            elements = node.get(key)
            if not isinstance(elements, list):
                continue
            for index, element in enumerate(elements):
                if isinstance(element, dict) and element.get("id") == input_id:
                    following = elements[index + 1] if index + 1 < len(elements) else None
                    if (
                        isinstance(following, dict)
                        and following.get("type") == "TextBlock"
                        and following.get("color") == "attention"
                    ):
                        return str(following.get("text"))
                    return None
    raise AssertionError(f"no input {input_id} on the card")


def wgs_on_form(card: dict[str, Any]) -> set[str]:
    """The WG ids a department form asks for (from its ``{wg}.{n}.name`` inputs)."""
    return {i.split(".")[0] for i in input_ids(card) if i.endswith(".name")}


def nominee(
    wg: str, slot: int, name: str, aad: str, position: str = "主任", status: str = "new"
) -> dict[str, str]:
    """The form fields of one nominee row."""
    prefix = f"{wg}.{slot}."
    return {
        prefix + "name": name,
        prefix + "aad": aad,
        prefix + "position": position,
        prefix + "status": status,
        prefix + "note": "",
    }


def gyosei_rows() -> dict[str, str]:
    """A valid answer for 行政管理課: one person per WG (BPR, 制度デジタル化, 内部統制)."""
    return {
        **nominee("bpr", 1, "赤城 花子", NOMINEE_A, status="continuing"),
        **nominee("seido-digital", 1, "榛名 次郎", NOMINEE_B),
        **nominee("naibu-tosei", 1, "妙義 三子", NOMINEE_C, position="係長"),
    }


def cards_in(stack: Stack, conversation_id: str) -> list[RecordedRequest]:
    """Successful card posts into one conversation."""
    return [r for r in stack.cards_to() if r.conversation_id == conversation_id]


def personal_chat(stack: Stack, aad: str) -> str:
    """The 1:1 conversation the bot created with this person (the member id names the Entra id)."""
    for member, conversation_id in stack.connector.conversations.items():
        if aad.lower() in member.lower():
            return conversation_id
    raise AssertionError(f"no 1:1 chat was created with {aad}: {stack.connector.conversations}")


def admin_chat(stack: Stack) -> str:
    """The admin's 1:1 conversation id as ``Stack.activity`` draws it."""
    return str(stack.activity("", kind="personal", sender=ADMIN)["conversation"]["id"])


async def command(stack: Stack, text: str, sender: Staff = ADMIN, **extra: Any) -> dict[str, Any]:
    """Send a 1:1 command; return the activity sent (to redeliver it)."""
    activity = stack.activity(text, kind="personal", sender=sender, **extra)
    status, _ = await stack.post(activity)
    assert status == 200
    return activity


async def answer_in_chat(
    stack: Stack, conversation_id: str, count: int, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Wait for the ``count``-th card in a conversation and return it."""
    await stack.connector.wait_for(lambda _r: len(cards_in(stack, conversation_id)) >= count, timeout_s)
    return card_of(cards_in(stack, conversation_id)[count - 1])


async def start_campaign(stack: Stack, expected_requests: int = 3) -> dict[str, Any]:
    """キャンペーン開始 as the admin; wait until every request card is sent; the start summary card."""
    await command(stack, "キャンペーン開始")
    summary = await answer_in_chat(stack, admin_chat(stack), 1)
    assert "開始しました" in card_text(summary)
    await stack.connector.wait_for(lambda _r: len(request_cards(stack)) >= expected_requests, timeout_s=10)
    # the admin hears when the background sends are done (a text message, not a card)
    await stack.connector.wait_for(
        lambda _r: any(
            "送信が終わりました" in str((r.body or {}).get("text", ""))
            for r in stack.connector.activity_posts(admin_chat(stack))
        ),
        timeout_s=10,
    )
    return summary


def request_cards(stack: Stack) -> list[RecordedRequest]:
    """The department forms sent so far."""
    return [r for r in stack.cards_to() if "wg.nomination.submit" in card_text(card_of(r))]


def request_card_for(stack: Stack, aad: str) -> dict[str, Any]:
    """The one request card sent to this contact's 1:1 chat."""
    chat = personal_chat(stack, aad)
    found = [r for r in request_cards(stack) if r.conversation_id == chat]
    assert len(found) == 1, f"{len(found)} request cards in {aad}'s chat"
    return card_of(found[0])


async def submit(
    stack: Stack,
    form: dict[str, Any],
    rows: dict[str, str],
    sender: Staff,
    *,
    invoke: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fill the form's inputs with ``rows`` and press its submit button; the card Teams shows next."""
    data = {**input_values(form), **rows, **execute_data(form, verbs.NOMINATION_SUBMIT)}
    activity = invoke or stack.invoke(
        verbs.NOMINATION_SUBMIT, data, card_activity_id="form-1", kind="personal", sender=sender
    )
    status, body = await stack.post(activity)
    assert status == 200, body
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    return dict(body["value"])


async def press(stack: Stack, card: dict[str, Any], verb: str, sender: Staff) -> dict[str, Any]:
    """Press a button (Action.Execute) of a card in a 1:1 chat; the card Teams shows next."""
    invoke = stack.invoke(
        verb, execute_data(card, verb), card_activity_id="card-1", kind="personal", sender=sender
    )
    status, body = await stack.post(invoke)
    assert status == 200, body
    assert body["statusCode"] == 200
    return dict(body["value"])


async def active_submissions(stack: Stack) -> list[tuple[str, str, str, Any]]:
    """(department, WG, status, nominees) of every stored submission."""
    rows = await query(
        stack,
        "select department_code, wg_id, status, nominees from submissions order by department_code, wg_id",
    )
    return [(str(d), str(w), str(s), n) for d, w, s, n in rows]


def nominee_ids(stored: Any) -> list[str]:
    """The Entra ids in a stored ``nominees`` JSON column."""
    items = json.loads(stored) if isinstance(stored, str) else stored
    return [str(item["aad_id"]) for item in items]


async def submission_audit(stack: Stack) -> list[tuple[str, str]]:
    """(action, actor) of the audit trail of department submissions, oldest first."""
    rows = await query(
        stack, "select action, actor from nomination_audit where entity = 'submission' order by id"
    )
    return [(str(a), str(b)) for a, b in rows]


_validated_shapes: set[str] = set()


def check_card(card: dict[str, Any], shape: str) -> None:
    """Validate a card against the Adaptive Card 1.5 schema once per shape and process (it is slow)."""
    if shape in _validated_shapes:
        return
    assert_valid_card(card)
    _validated_shapes.add(shape)


async def configured_stack_for(request: pytest.FixtureRequest, tmp_path: Path, test_ca: TestCA) -> Stack:
    """A stack with the sample directory plus a contact for D080, export links and an announcement channel."""
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    patched = [
        f"{line.rstrip(',')},{BPR_ONLY.aad}" if line.startswith(f"{BPR_ONLY_CODE},") else line
        for line in lines
    ]
    assert patched != lines, f"{BPR_ONLY_CODE} is not in the sample directory"
    directory = tmp_path / "departments.csv"
    directory.write_text("\n".join(patched) + "\n", encoding="utf-8")
    overrides = {
        "WG_DEPARTMENTS_CSV": str(directory),
        "PUBLIC_BASE_URL": "https://bot.example.jp",
        "WG_ANNOUNCEMENT_CHANNEL_ID": CHANNEL_ID,
    }
    if request.param == "postgresql":
        databases = request.getfixturevalue("postgres_databases")
        url = await asyncio.to_thread(databases.create)
        overrides["DATABASE_URL"] = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    return await start_stack(tmp_path, test_ca, **overrides)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def configured_stack(
    request: pytest.FixtureRequest, tmp_path: Path, test_ca: TestCA
) -> AsyncIterator[Stack]:
    """Like ``stack``, plus a contact for D080 (in no ② list), export links and an announcement channel."""
    running = await configured_stack_for(request, tmp_path, test_ca)
    yield running
    await stop_stack(running)


# -- campaign start ----------------------------------------------------------------------------


async def test_a_campaign_start_sends_each_contact_one_card_listing_their_wgs(stack: Stack) -> None:
    summary = await start_campaign(stack)
    check_card(summary, "notice")
    await stack.settle()
    # one 1:1 chat per contact, created by the bot, and exactly one request card in each
    assert len(stack.connector.conversations) == 3
    forms = {aad: request_card_for(stack, aad) for aad in SAMPLE_CONTACTS}
    assert len(request_cards(stack)) == 3
    gyosei = forms[GYOSEI.aad]
    assert wgs_on_form(gyosei) == {"bpr", "seido-digital", "naibu-tosei"}
    assert "行政管理課" in card_text(gyosei)
    assert "制度デジタル化WG" in card_text(gyosei) and "内部統制のDX推進WG" in card_text(gyosei)
    # 情報政策課 is in every ② list; the open-application WGs are never on a department form
    joho_wgs = {
        "bpr",
        "seido-digital",
        "mynumber",
        "kashikan",
        "digital-divide",
        "kanmin-data",
        "naibu-tosei",
    }
    assert wgs_on_form(forms[JOHO_1.aad]) == joho_wgs
    assert wgs_on_form(forms[JOHO_2.aad]) == joho_wgs
    # each rendering has its own nonce, so one contact's double click never merges with another's
    nonces = {execute_data(f, verbs.NOMINATION_SUBMIT)["form"] for f in forms.values()}
    assert len(nonces) == 3
    assert execute_data(gyosei, verbs.NOMINATION_SUBMIT)["department_code"] == "D001"
    check_card(gyosei, "request")
    stored = await query(stack, "select id, status, created_by from campaigns")
    assert len(stored) == 1 and stored[0][1] == "open" and stored[0][2] == ADMIN_AAD


async def test_a_redelivered_start_and_a_second_start_send_nothing_more(stack: Stack) -> None:
    start = stack.activity("キャンペーン開始", kind="personal", sender=ADMIN)
    assert (await stack.post(start))[0] == 200
    await stack.connector.wait_for(lambda _r: len(request_cards(stack)) >= 3, timeout_s=10)
    assert (await stack.post(start))[0] == 200  # Teams redelivers the same activity
    await command(stack, "キャンペーン開始")  # the admin sends it again
    second = await answer_in_chat(stack, admin_chat(stack), 2)
    assert "すでに受付中" in card_text(second)
    await stack.settle(0.5)
    assert len(request_cards(stack)) == 3
    assert await count_rows(stack, "campaigns") == 1


async def test_a_department_in_no_related_list_gets_bpr_only(configured_stack: Stack) -> None:
    stack = configured_stack
    await start_campaign(stack, expected_requests=4)
    await stack.settle()
    assert len(request_cards(stack)) == 4
    form = request_card_for(stack, BPR_ONLY.aad)
    assert wgs_on_form(form) == {"bpr"}
    assert "宮城支所" in card_text(form)
    assert execute_data(form, verbs.NOMINATION_SUBMIT)["department_code"] == BPR_ONLY_CODE


async def test_a_non_admin_cannot_start_a_campaign(stack: Stack) -> None:
    await command(stack, "キャンペーン開始", sender=GYOSEI)
    refusal = await answer_in_chat(stack, f"a:1personal-{GYOSEI.teams_id}", 1)
    assert "管理者" in card_text(refusal)
    check_card(refusal, "notice")
    await stack.settle(0.5)
    assert stack.connector.conversations == {}, "no 1:1 chat was opened with any contact"
    assert len(stack.cards_to()) == 1
    assert await count_rows(stack, "campaigns") == 0


async def test_other_admin_commands_are_refused_to_staff(stack: Stack) -> None:
    await start_campaign(stack)
    before = len(stack.connector.requests)
    commands = ["状況", "リマインド", "エクスポート", "締切", "締切延長 2099-01-01"]
    for n, text in enumerate(commands, start=1):
        await command(stack, text, sender=GYOSEI)
        refusal = await answer_in_chat(stack, f"a:1personal-{GYOSEI.teams_id}", n)
        assert "管理者" in card_text(refusal), text
    await stack.settle()
    assert len(stack.connector.requests) == before + len(commands), "only the refusals were sent"
    assert await query(stack, "select status from campaigns") == [("open",)]
    assert await count_rows(stack, "reminder_claims") == 0


# -- the department form -----------------------------------------------------------------------


async def test_a_valid_submission_is_stored_and_answered_with_a_receipt(stack: Stack) -> None:
    await start_campaign(stack)
    form = request_card_for(stack, GYOSEI.aad)
    receipt = await submit(stack, form, gyosei_rows(), GYOSEI)
    text = card_text(receipt)
    assert "受け付けました" in text
    assert "赤城 花子" in text and "継続" in text and "妙義 三子" in text
    assert "行政管理課" in text
    check_card(receipt, "receipt")
    stored = await active_submissions(stack)
    assert [(d, w, s) for d, w, s, _ in stored] == [
        ("D001", "bpr", "submitted"),
        ("D001", "naibu-tosei", "submitted"),
        ("D001", "seido-digital", "submitted"),
    ]
    by_wg = {w: nominee_ids(n) for _d, w, _s, n in stored}
    assert by_wg == {"bpr": [NOMINEE_A], "naibu-tosei": [NOMINEE_C], "seido-digital": [NOMINEE_B]}
    submitters = await query(stack, "select distinct submitted_by from submissions")
    assert submitters == [(GYOSEI.aad,)]
    assert [a for a, _ in await submission_audit(stack)] == ["submit"] * 3


INVALID_CASES: list[tuple[str, dict[str, str], str, str]] = [
    # (case, fields changed on a valid answer, field whose error is shown, words of the error)
    ("name missing", {"bpr.1.name": ""}, "bpr.1.name", "氏名を入力"),
    ("person not picked", {"seido-digital.1.aad": ""}, "seido-digital.1.aad", "選んで"),
    ("position missing", {"naibu-tosei.1.position": "  "}, "naibu-tosei.1.position", "職名を入力"),
    ("position too long", {"bpr.1.position": "職" * 31}, "bpr.1.position", "30文字以内"),
    ("note too long", {"bpr.1.note": "あ" * 201}, "bpr.1.note", "200文字以内"),
    ("not a GUID", {"bpr.1.aad": "someone@example.jp"}, "bpr.1.aad", "ユーザー検索"),
    ("no status", {"bpr.1.status": "maybe"}, "bpr.1.status", "継続か新規"),
    (
        "a WG left empty",
        nominee("naibu-tosei", 1, "", "", position=""),
        "naibu-tosei.1.name",
        "少なくとも1名",
    ),
    (
        "the same person twice in a WG",
        nominee("bpr", 2, "赤城 花子", NOMINEE_A),
        "bpr.2.aad",
        "同じ職員",
    ),
    (
        "the same person in two WGs",
        {"seido-digital.1.aad": NOMINEE_A},
        "seido-digital.1.aad",
        "同じ職員",
    ),
]


async def test_each_invalid_form_comes_back_with_the_error_by_the_field_and_nothing_stored(
    stack: Stack,
) -> None:
    await start_campaign(stack)
    form = request_card_for(stack, GYOSEI.aad)
    for case, changes, field, words in INVALID_CASES:
        rows = gyosei_rows() | changes
        answer = await submit(stack, form, rows, GYOSEI)
        message = error_after(answer, field)
        assert message is not None and words in message, f"{case}: {message!r}"
        # what was typed is kept: every other filled field shows the submitted value
        shown = input_values(answer)
        for key, value in rows.items():
            if value and key != field and key in shown:
                assert shown[key] == value, f"{case}: {key} not kept"
        assert REQUEST_TITLE in card_text(answer), f"{case}: not the same form"
        check_card(answer, "form-with-errors")
    assert await count_rows(stack, "submissions") == 0
    assert await submission_audit(stack) == []


async def test_over_quota_is_refused_in_the_wg_section(stack: Stack) -> None:
    await start_campaign(stack)
    form = request_card_for(stack, GYOSEI.aad)
    # BPR takes two per department, 制度デジタル化 one; a crafted third/second row is refused
    rows = (
        gyosei_rows()
        | nominee("bpr", 2, "大胡 四郎", NOMINEE_D)
        | nominee("seido-digital", 2, "x", NOMINEE_C)
    )
    answer = await submit(stack, form, rows, GYOSEI)
    text = card_text(answer)
    assert "1名まで" in text
    assert await count_rows(stack, "submissions") == 0
    rows = gyosei_rows() | nominee("bpr", 2, "大胡 四郎", NOMINEE_D) | nominee("bpr", 3, "y", NOMINEE_C)
    answer = await submit(stack, form, rows, GYOSEI)
    assert "2名まで" in card_text(answer)
    assert await count_rows(stack, "submissions") == 0
    # two in BPR is within its quota
    receipt = await submit(stack, form, gyosei_rows() | nominee("bpr", 2, "大胡 四郎", NOMINEE_D), GYOSEI)
    assert "受け付けました" in card_text(receipt)
    bpr = [n for _d, w, _s, n in await active_submissions(stack) if w == "bpr"]
    assert nominee_ids(bpr[0]) == [NOMINEE_A, NOMINEE_D]


async def test_a_person_another_department_nominated_for_the_same_wg_is_refused(stack: Stack) -> None:
    await start_campaign(stack)
    await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    joho_form = request_card_for(stack, JOHO_1.aad)
    rows = {
        **nominee("bpr", 1, "大胡 四郎", NOMINEE_D),
        **nominee("seido-digital", 1, "榛名 次郎", NOMINEE_B),  # 行政管理課 named them already
        **nominee("mynumber", 1, "m", "bbbbbbbb-1111-4111-8111-000000000001"),
        **nominee("kashikan", 1, "k", "bbbbbbbb-1111-4111-8111-000000000002"),
        **nominee("digital-divide", 1, "d", "bbbbbbbb-1111-4111-8111-000000000003"),
        **nominee("kanmin-data", 1, "c", "bbbbbbbb-1111-4111-8111-000000000004"),
        **nominee("naibu-tosei", 1, "n", "bbbbbbbb-1111-4111-8111-000000000005"),
    }
    answer = await submit(stack, joho_form, rows, JOHO_1)
    message = error_after(answer, "seido-digital.1.aad")
    assert message is not None and "行政管理課" in message
    assert {d for d, *_ in await active_submissions(stack)} == {"D001"}
    # the same person in a WG 行政管理課 did not name them for is fine
    rows |= nominee("seido-digital", 1, "大胡 五郎", "bbbbbbbb-1111-4111-8111-000000000006")
    rows |= nominee("mynumber", 1, "榛名 次郎", NOMINEE_B)
    receipt = await submit(stack, joho_form, rows, JOHO_1)
    assert "受け付けました" in card_text(receipt)
    assert {d for d, *_ in await active_submissions(stack)} == {"D001", "D004"}


async def test_someone_who_is_not_the_departments_contact_cannot_submit_its_form(stack: Stack) -> None:
    await start_campaign(stack)
    form = request_card_for(stack, GYOSEI.aad)
    answer = await submit(stack, form, gyosei_rows(), OUTSIDER)
    assert "担当者だけ" in card_text(answer)
    answer = await submit(stack, form, gyosei_rows(), JOHO_1)  # a contact of another department
    assert "担当者だけ" in card_text(answer)
    assert await count_rows(stack, "submissions") == 0


async def test_a_double_submission_is_stored_once(stack: Stack) -> None:
    await start_campaign(stack)
    form = request_card_for(stack, GYOSEI.aad)
    data = {**input_values(form), **gyosei_rows(), **execute_data(form, verbs.NOMINATION_SUBMIT)}
    invoke = stack.invoke(
        verbs.NOMINATION_SUBMIT, data, card_activity_id="form-1", kind="personal", sender=GYOSEI
    )
    # a Teams retry of the same invoke, twice at once and once more later
    first, second = await asyncio.gather(
        submit(stack, form, {}, GYOSEI, invoke=invoke), submit(stack, form, {}, GYOSEI, invoke=invoke)
    )
    third = await submit(stack, form, {}, GYOSEI, invoke=invoke)
    # a double click: the same data from the same rendering, as two invokes
    fourth, fifth = await asyncio.gather(
        submit(stack, form, gyosei_rows(), GYOSEI), submit(stack, form, gyosei_rows(), GYOSEI)
    )
    for answer in (first, second, third, fourth, fifth):
        assert "受け付けました" in card_text(answer)
    assert await count_rows(stack, "submissions") == 3
    versions = await query(stack, "select wg_id, version from submissions order by wg_id")
    assert [v for _w, v in versions] == [1, 1, 1]
    audit = await submission_audit(stack)
    assert [a for a, _ in audit] == ["submit"] * 3, audit


async def test_an_edit_and_a_withdrawal_are_stored_with_an_audit_trail(stack: Stack) -> None:
    await start_campaign(stack)
    receipt = await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    # 変更する: the form again, prefilled, with a new nonce
    edit_form = await press(stack, receipt, verbs.NOMINATION_EDIT, GYOSEI)
    assert "変更を提出する" in card_text(edit_form)
    shown = input_values(edit_form)
    assert shown["bpr.1.name"] == "赤城 花子" and shown["bpr.1.aad"] == NOMINEE_A
    assert shown["bpr.1.status"] == "continuing"
    check_card(edit_form, "edit-form")
    changed = await submit(
        stack, edit_form, nominee("bpr", 1, "大胡 四郎", NOMINEE_D, position="主事"), GYOSEI
    )
    assert "大胡 四郎" in card_text(changed) and "赤城 花子" not in card_text(changed)
    bpr = {w: (s, nominee_ids(n)) for _d, w, s, n in await active_submissions(stack)}["bpr"]
    assert bpr == ("submitted", [NOMINEE_D])
    versions = dict(await query(stack, "select wg_id, version from submissions"))
    assert versions["bpr"] == 2
    seido = {w: nominee_ids(n) for _d, w, _s, n in await active_submissions(stack)}["seido-digital"]
    assert seido == [NOMINEE_B], "the WGs not changed keep their nominees"
    # 取り下げる
    withdrawn = await press(stack, changed, verbs.NOMINATION_WITHDRAW, GYOSEI)
    assert "取り下げました" in card_text(withdrawn)
    check_card(withdrawn, "withdrawn")
    assert {s for _d, _w, s, _n in await active_submissions(stack)} == {"withdrawn"}
    audit = await submission_audit(stack)
    actions = [a for a, _ in audit]
    assert actions[:3] == ["submit"] * 3 and actions[-3:] == ["withdraw"] * 3, actions
    assert "edit" in actions[3:-3], actions
    assert {actor for _, actor in audit} == {GYOSEI.aad}
    # a second click of the old withdraw button changes nothing more
    again = await press(stack, changed, verbs.NOMINATION_WITHDRAW, GYOSEI)
    assert "取り下げました" in card_text(again)
    assert len(await submission_audit(stack)) == len(audit)


async def test_after_the_campaign_is_closed_nothing_is_stored_or_withdrawn(stack: Stack) -> None:
    await start_campaign(stack)
    receipt = await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    await command(stack, "締切")
    closed = await answer_in_chat(stack, admin_chat(stack), 2)
    assert "受付を終了しました" in card_text(closed)
    assert await query(stack, "select status from campaigns") == [("closed",)]
    # 情報政策課 sends its form too late
    rows = {
        f"{wg}.1.{field}": value
        for n, wg in enumerate(
            ["bpr", "seido-digital", "mynumber", "kashikan", "digital-divide", "kanmin-data", "naibu-tosei"]
        )
        for field, value in (
            ("name", f"職員 {n}"),
            ("aad", f"cccccccc-1111-4111-8111-00000000000{n}"),
            ("position", "主事"),
            ("status", "new"),
        )
    }
    late = await submit(stack, request_card_for(stack, JOHO_1.aad), rows, JOHO_1)
    assert "締め切られました" in card_text(late)
    assert input_values(late)["bpr.1.name"] == "職員 0", "what was typed is kept"
    # 行政管理課 can no longer withdraw; the receipt stays
    refused = await press(stack, receipt, verbs.NOMINATION_WITHDRAW, GYOSEI)
    assert "受け付けました" in card_text(refused)
    assert {(d, s) for d, _w, s, _n in await active_submissions(stack)} == {("D001", "submitted")}
    assert await count_rows(stack, "submissions") == 3


# -- tracking, reminders, export ---------------------------------------------------------------


async def test_reminders_go_only_to_departments_that_have_not_submitted(stack: Stack) -> None:
    await start_campaign(stack)
    await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    before = len(stack.cards_to())
    remind = await command(stack, "リマインド")
    answer = await answer_in_chat(stack, admin_chat(stack), 2)
    assert "1 所属" in card_text(answer)

    def reminders() -> list[RecordedRequest]:
        return [r for r in stack.cards_to() if "リマインド ⏰" in card_text(card_of(r))]

    await stack.connector.wait_for(lambda _r: len(reminders()) >= 2)
    await stack.settle()
    sent = reminders()
    assert len(sent) == 2
    joho_chats = {personal_chat(stack, JOHO_1.aad), personal_chat(stack, JOHO_2.aad)}
    assert {r.conversation_id for r in sent} == joho_chats
    assert not cards_in(stack, personal_chat(stack, GYOSEI.aad))[1:], "行政管理課 submitted: no reminder"
    reminder = card_of(sent[0])
    assert "情報政策課" in card_text(reminder)
    check_card(reminder, "reminder")
    # Teams redelivers the same command: the slot is its activity id, nobody is reminded twice
    status, _ = await stack.post(remind)
    assert status == 200
    await stack.settle(0.5)
    assert len(reminders()) == 2
    assert len(stack.cards_to()) == before + 1 + 2
    assert await count_rows(stack, "reminder_claims") == 1
    # the reminder's button opens the department's form
    opened = await press(stack, reminder, verbs.NOMINATION_OPEN, JOHO_2)
    assert wgs_on_form(opened) and "提出する" in card_text(opened)
    # a new リマインド command is a new slot: the admin asked again, so the missing are reminded again
    await command(stack, "リマインド")
    await stack.connector.wait_for(lambda _r: len(reminders()) >= 4)
    await stack.settle()
    assert len(reminders()) == 4
    assert await count_rows(stack, "reminder_claims") == 2


async def test_the_status_card_shows_who_has_submitted_and_who_has_not(stack: Stack) -> None:
    await start_campaign(stack)
    await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    await command(stack, "状況")
    status = await answer_in_chat(stack, admin_chat(stack), 2)
    check_card(status, "status")
    sections = {
        node["id"]: card_text(node) for node in walk(status) if str(node.get("id", "")).startswith("status-")
    }
    seido = sections["status-seido-digital"]
    assert "1 / 4 所属 提出済み" in seido
    assert "提出済み：行政管理課" in seido
    assert "未提出（3）" in seido and "財政課" in seido and "情報政策課" in seido
    assert "0 / 5 所属" in sections["status-mynumber"]
    assert "提出済み：行政管理課" in sections["status-bpr"]
    assert "公募" in card_text(status)  # ミライズWG counts applications instead
    # the refresh button gives admins the fresh card, others a notice
    refreshed = await press(stack, status, verbs.CAMPAIGN_STATUS_REFRESH, ADMIN)
    assert "提出済み：行政管理課" in card_text(refreshed)
    denied = await press(stack, status, verbs.CAMPAIGN_STATUS_REFRESH, GYOSEI)
    assert "行政管理課" not in card_text(denied) and "管理者" in card_text(denied)


async def test_the_export_link_downloads_a_csv_with_bom_for_the_admin(configured_stack: Stack) -> None:
    stack = configured_stack
    await start_campaign(stack, expected_requests=4)
    await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    await command(stack, "エクスポート")
    answer = await answer_in_chat(stack, admin_chat(stack), 2)
    check_card(answer, "export")
    links = [node["url"] for node in walk(answer) if node.get("type") == "Action.OpenUrl"]
    csv_links = [u for u in links if "/exports/" in u]
    assert len(csv_links) == 2, links
    assert all(u.startswith("https://bot.example.jp/exports/") for u in csv_links)
    downloads: dict[str, bytes] = {}
    for url in csv_links:
        async with stack.session.get(stack.url + urlparse(url).path) as response:
            assert response.status == 200
            downloads[response.headers["Content-Type"]] = await response.read()
    csv_bytes = next(body for kind, body in downloads.items() if kind.startswith("text/csv"))
    assert csv_bytes.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM"
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    nominated = {(r["WG ID"], r["所属名"], r["氏名"], r["EntraオブジェクトID"], r["継続/新規"]) for r in rows}
    assert ("bpr", "行政管理課", "赤城 花子", NOMINEE_A, "継続") in nominated
    assert ("naibu-tosei", "行政管理課", "妙義 三子", NOMINEE_C, "新規") in nominated
    assert len(rows) == 3, rows
    xlsx = next(body for kind, body in downloads.items() if "spreadsheetml" in kind)
    assert xlsx.startswith(b"PK")
    # a link works once
    async with stack.session.get(stack.url + urlparse(csv_links[0]).path) as response:
        assert response.status == 410


async def test_a_withdrawn_department_is_missing_again_everywhere(configured_stack: Stack) -> None:
    stack = configured_stack
    await start_campaign(stack, expected_requests=4)
    receipt = await submit(stack, request_card_for(stack, GYOSEI.aad), gyosei_rows(), GYOSEI)
    await press(stack, receipt, verbs.NOMINATION_WITHDRAW, GYOSEI)
    # the status card counts it as missing
    await command(stack, "状況")
    status = await answer_in_chat(stack, admin_chat(stack), 2)
    assert "提出済み：行政管理課" not in card_text(status)
    seido = next(card_text(n) for n in walk(status) if n.get("id") == "status-seido-digital")
    assert "0 / 4 所属" in seido and "行政管理課" in seido
    # a reminder goes to its contact again (and to the others still missing)
    await command(stack, "リマインド")
    await stack.connector.wait_for(
        lambda _r: any(
            "リマインド ⏰" in card_text(card_of(r))
            for r in cards_in(stack, personal_chat(stack, GYOSEI.aad))
        )
    )
    # the export lists nobody (the withdrawn nominees are not exported)
    await command(stack, "エクスポート")
    answer = await answer_in_chat(stack, admin_chat(stack), 4)
    assert "0 名分" in card_text(answer)
    url = next(
        n["url"] for n in walk(answer) if n.get("type") == "Action.OpenUrl" and "CSV" in n.get("title", "")
    )
    async with stack.session.get(stack.url + urlparse(url).path) as response:
        assert response.status == 200
        body = (await response.read()).decode("utf-8-sig")
    assert "赤城 花子" not in body and NOMINEE_A not in body


# -- open application (③) ----------------------------------------------------------------------


async def test_an_open_application_from_the_channel_announcement(configured_stack: Stack) -> None:
    stack = configured_stack
    install = stack.activity("", activity_type="installationUpdate", action="add")
    install.pop("text")
    assert (await stack.post(install))[0] == 200
    await stack.connector.wait_for(lambda _r: len(cards_in(stack, CHANNEL_ID)) == 1)  # the welcome card
    await start_campaign(stack, expected_requests=4)
    await stack.connector.wait_for(lambda _r: len(cards_in(stack, CHANNEL_ID)) == 2)
    announcement = card_of(cards_in(stack, CHANNEL_ID)[1])
    check_card(announcement, "announcement")
    assert "ミライズWG" in card_text(announcement)
    assert "地域社会のDX推進WG" not in card_text(announcement), "its recruitment is announced separately"
    # 応募する in the channel: the announcement stays for everyone, the form goes to the 1:1 chat
    open_data = next(
        dict(n["data"])
        for n in walk(announcement)
        if n.get("verb") == verbs.APPLICATION_OPEN and n.get("data", {}).get("wg_id") == "mirise"
    )
    status, body = await stack.post(
        stack.invoke(verbs.APPLICATION_OPEN, open_data, card_activity_id="ann-1", sender=OUTSIDER)
    )
    assert status == 200 and "ミライズWG" in card_text(body["value"])
    await stack.connector.wait_for(lambda _r: OUTSIDER.aad in " ".join(stack.connector.conversations))
    chat = personal_chat(stack, OUTSIDER.aad)
    form = await answer_in_chat(stack, chat, 1)
    check_card(form, "application-form")
    assert input_values(form)["name"] == OUTSIDER.name
    valid = {
        "department": "D016",
        "position": "主事",
        "themes": "複業,ピアボーナス",
        "motivation": "庁内の知見を共有する仕組みをつくりたいです。",
        "supervisor_agreed": "true",
    }

    async def apply(changes: dict[str, str]) -> dict[str, Any]:
        data = {**input_values(form), **valid, **changes, **execute_data(form, verbs.APPLICATION_SUBMIT)}
        invoke = stack.invoke(
            verbs.APPLICATION_SUBMIT, data, card_activity_id="f", kind="personal", sender=OUTSIDER
        )
        status, body = await stack.post(invoke)
        assert status == 200 and body["statusCode"] == 200
        return dict(body["value"])

    for field, changes, words in [
        ("supervisor_agreed", {"supervisor_agreed": "false"}, "了承"),
        ("motivation", {"motivation": "あ" * 401}, "400文字以内"),
        ("themes", {"themes": "複業,宇宙開発"}, "一覧にないテーマ"),
        ("department", {"department": "D999"}, "一覧にない所属"),
    ]:
        answer = await apply(changes)
        message = error_after(answer, field)
        assert message is not None and words in message, (field, message)
        assert input_values(answer)["position"] == "主事"
    assert await count_rows(stack, "applications") == 0
    receipt = await apply({})
    assert "応募を受け付けました" in card_text(receipt) and "市民協働課" in card_text(receipt)
    check_card(receipt, "application-receipt")
    await apply({})  # a double click stores once
    stored = await query(stack, "select applicant_aad_id, wg_id, department_code, status from applications")
    assert stored == [(OUTSIDER.aad, "mirise", "D016", "submitted")]
