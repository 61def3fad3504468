"""Form validation as a table: valid submissions and each kind of mistake, with the field it lands on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.wg import samples
from tests.wg.samples import ALICE, BOB, CAROL, DEADLINE, DURING, OPENS, SUBMITTER
from wg.forms import (
    FormErrors,
    Nomination,
    OpenApplication,
    nomination_values,
    parse_application,
    parse_nomination,
)

# 会計室 (D003) is asked for BPR (up to 2), 制度デジタル化WG and 内部統制のDX推進WG.
ACCOUNTING = "D003"


def row(
    wg: str, slot: int, name: str, aad: str, position: str = "主任", status: str = "new", note: str = ""
) -> dict[str, str]:
    prefix = f"{wg}.{slot}."
    return {
        prefix + "name": name,
        prefix + "aad": aad,
        prefix + "position": position,
        prefix + "status": status,
        prefix + "note": note,
    }


DAVE = "55555555-5555-4555-8555-555555555555"
BASE: dict[str, Any] = {
    "verb": "wg.nomination.submit",
    "campaign_id": "fy2023",
    "department_code": ACCOUNTING,
    **row("bpr", 1, "前橋 太郎", ALICE, status="continuing"),
    **row("seido-digital", 1, "赤城 花子", BOB),
    **row("naibu-tosei", 1, "榛名 次郎", CAROL, note="監査経験あり"),
}


def submit(data: dict[str, Any], now: Any = DURING, campaign: Any = None) -> Nomination | FormErrors:
    directory = samples.directory()
    department = directory.get(ACCOUNTING)
    assert department is not None and department.name == "会計室"
    return parse_nomination(
        data,
        campaign=campaign or samples.campaign(),
        department=department,
        catalogue=samples.catalogue(),
        submitted_by=SUBMITTER,
        now=now,
    )


VALID = [
    ("one each", {}),
    ("BPR takes two", row("bpr", 2, "利根 三郎", DAVE)),
    ("empty second BPR row is nobody", row("bpr", 2, "", "", position="", status="", note="")),
    (
        "untouched second BPR row keeps only the default 新規",
        row("bpr", 2, "", "", position="", status="new"),
    ),
    ("surrounding spaces trimmed", {"bpr.1.name": "  前橋 太郎  "}),
    ("upper-case GUID from the picker", {"bpr.1.aad": ALICE.upper()}),
    ("note at its limit", {"bpr.1.note": "あ" * 200}),
    ("unrelated keys ignored", {"extra": "x", "bpr.x.name": "y"}),
]


@pytest.mark.parametrize(("name", "change"), VALID, ids=[case[0] for case in VALID])
def test_valid_department_forms(name: str, change: dict[str, Any]) -> None:
    result = submit({**BASE, **change})
    assert isinstance(result, Nomination), getattr(result, "errors", None)
    assert (
        result.department_code == ACCOUNTING
        and result.submitted_by == SUBMITTER
        and result.submitted_at == DURING
    )
    assert result.for_wg("bpr")[0].name == "前橋 太郎"
    assert result.for_wg("bpr")[0].aad_object_id == ALICE
    assert result.for_wg("bpr")[0].continuing is True


def test_a_valid_form_gives_every_nominee_with_their_fields() -> None:
    result = submit({**BASE, **row("bpr", 2, "利根 三郎", DAVE)})
    assert isinstance(result, Nomination)
    assert [(n.wg_id, n.name, n.position, n.continuing, n.note) for n in result.nominees] == [
        ("bpr", "前橋 太郎", "主任", True, ""),
        ("bpr", "利根 三郎", "主任", False, ""),
        ("seido-digital", "赤城 花子", "主任", False, ""),
        ("naibu-tosei", "榛名 次郎", "主任", False, "監査経験あり"),
    ]


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("name missing", {"bpr.1.name": ""}, "bpr.1.name", "氏名を入力"),
    ("name too long", {"bpr.1.name": "あ" * 41}, "bpr.1.name", "40文字以内"),
    ("person not picked", {"bpr.1.aad": ""}, "bpr.1.aad", "ユーザー検索から"),
    ("person not a GUID", {"bpr.1.aad": "前橋 太郎"}, "bpr.1.aad", "ユーザー検索から"),
    ("position missing", {"seido-digital.1.position": ""}, "seido-digital.1.position", "職名を入力"),
    ("position too long", {"seido-digital.1.position": "あ" * 31}, "seido-digital.1.position", "30文字以内"),
    ("status missing", {"naibu-tosei.1.status": ""}, "naibu-tosei.1.status", "継続か新規か"),
    ("status unknown", {"naibu-tosei.1.status": "maybe"}, "naibu-tosei.1.status", "継続か新規か"),
    (
        "note too long",
        {"naibu-tosei.1.note": "あ" * 201},
        "naibu-tosei.1.note",
        "200文字以内で入力してください（いま201文字）",
    ),
    ("not a string", {"bpr.1.name": ["前橋"]}, "bpr.1.name", "文字で入力"),
    ("a WG left empty", row("seido-digital", 1, "", "", "", "", ""), "seido-digital.1.name", "少なくとも1名"),
    ("same person twice in one WG", row("bpr", 2, "前橋 太郎", ALICE), "bpr.2.aad", "このWGにも"),
    ("same person in two WGs", {"naibu-tosei.1.aad": ALICE}, "naibu-tosei.1.aad", "「BPR推進WG」にも"),
    ("over the quota", row("seido-digital", 2, "利根 三郎", DAVE), "seido-digital", "1名まで"),
    ("over BPR's quota", row("bpr", 3, "利根 三郎", DAVE), "bpr", "2名まで"),
    (
        "a WG that does not concern the department",
        row("mynumber", 1, "利根 三郎", DAVE),
        "_form",
        "推薦対象ではありません",
    ),
    ("an unknown WG", row("nope", 1, "利根 三郎", DAVE), "_form", "「nope」"),
]


@pytest.mark.parametrize(("name", "change", "field", "words"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_department_forms(name: str, change: dict[str, Any], field: str, words: str) -> None:
    result = submit({**BASE, **change})
    assert isinstance(result, FormErrors)
    assert words in result.errors.get(field, ""), result.errors
    # What the person typed comes back so the card can show it again.
    for key, value in change.items():
        if isinstance(value, str) and key in result.values:
            assert result.values[key] == value.strip()


@pytest.mark.parametrize(
    ("now", "state", "words"),
    [
        (DEADLINE, "open", "締め切られました"),
        (DEADLINE + timedelta(days=1), "open", "締め切られました"),
        (DURING, "closed", "締め切られました"),
        (OPENS - timedelta(minutes=1), "open", "まだ始まっていません"),
        (DURING, "draft", "まだ始まっていません"),
    ],
)
def test_closed_or_not_yet_open_campaign(now: Any, state: str, words: str) -> None:
    result = submit(BASE, now=now, campaign=samples.campaign(state=state))
    assert isinstance(result, FormErrors)
    assert words in result.errors["_form"]


def test_every_mistake_is_reported_at_once() -> None:
    result = submit({**BASE, "bpr.1.name": "", "seido-digital.1.position": "", "naibu-tosei.1.status": ""})
    assert isinstance(result, FormErrors)
    assert set(result.errors) == {"bpr.1.name", "seido-digital.1.position", "naibu-tosei.1.status"}


def test_values_of_an_existing_nomination_round_trip() -> None:
    first = submit({**BASE, **row("bpr", 2, "利根 三郎", DAVE)})
    assert isinstance(first, Nomination)
    again = submit({**BASE, **nomination_values(first)})
    assert isinstance(again, Nomination) and again.nominees == first.nominees


APPLICATION: dict[str, Any] = {
    "verb": "wg.application.submit",
    "campaign_id": "fy2023",
    "wg_id": "mirise",
    "name": "前橋 太郎",
    "department": "D001",
    "position": "主事",
    "themes": "複業,ピアボーナス",
    "motivation": "職員の挑戦を応援したい",
    "supervisor_agreed": "true",
}


def apply(change: dict[str, Any], now: Any = DURING) -> OpenApplication | FormErrors:
    return parse_application(
        {**APPLICATION, **change},
        campaign=samples.campaign(),
        catalogue=samples.catalogue(),
        directory=samples.directory(),
        applicant_aad_id=ALICE,
        now=now,
    )


def test_a_valid_application() -> None:
    result = apply({})
    assert result == OpenApplication(
        "fy2023",
        "mirise",
        ALICE,
        "前橋 太郎",
        "D001",
        "主事",
        ("複業", "ピアボーナス"),
        "職員の挑戦を応援したい",
        True,
        DURING,
    )


APPLICATION_INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("no name", {"name": ""}, "name", "氏名を入力"),
    ("no department", {"department": ""}, "department", "所属を選んで"),
    ("unknown department", {"department": "X999"}, "department", "一覧にない所属"),
    ("no position", {"position": ""}, "position", "職名を入力"),
    ("no theme", {"themes": ""}, "themes", "1つ以上"),
    ("unknown theme", {"themes": "複業,宇宙開発"}, "themes", "宇宙開発"),
    ("theme twice", {"themes": "複業,複業"}, "themes", "2回"),
    ("no motivation", {"motivation": ""}, "motivation", "志望動機を入力"),
    (
        "motivation too long",
        {"motivation": "あ" * 401},
        "motivation",
        "400文字以内で入力してください（いま401文字）",
    ),
    ("no supervisor agreement", {"supervisor_agreed": "false"}, "supervisor_agreed", "了承を得てから"),
    ("agreement missing", {"supervisor_agreed": None}, "supervisor_agreed", "了承を得てから"),
    ("separately recruited WG", {"wg_id": "chiiki-dx", "themes": ""}, "_form", "受け付けていません"),
    ("a nominated WG", {"wg_id": "bpr"}, "_form", "受け付けていません"),
    ("no WG", {"wg_id": None}, "_form", "受け付けていません"),
]


@pytest.mark.parametrize(
    ("name", "change", "field", "words"), APPLICATION_INVALID, ids=[c[0] for c in APPLICATION_INVALID]
)
def test_invalid_applications(name: str, change: dict[str, Any], field: str, words: str) -> None:
    result = apply(change)
    assert isinstance(result, FormErrors)
    assert words in result.errors.get(field, ""), result.errors
    assert result.values["name"] == (change.get("name") if "name" in change else "前橋 太郎")


def test_application_after_the_deadline() -> None:
    result = apply({}, now=DEADLINE)
    assert isinstance(result, FormErrors) and "締め切られました" in result.errors["_form"]
