"""Every card builder gives a Teams-renderable Adaptive Card 1.5, and each card says what it should."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cards import (
    HOWTO_TOPICS,
    NudgeItem,
    NudgeView,
    application_receipt_card,
    campaign_status_card,
    help_card,
    nomination_request_card,
    nudge_ack_card,
    nudge_card,
    nudge_withdrawn_card,
    open_application_announcement_card,
    open_application_card,
    reminder_card,
    rules_card,
    settings_card,
    submission_receipt_card,
    verbs,
    welcome_card,
    withdrawn_card,
)
from tests.schemas.check import assert_valid_card
from tests.wg import samples
from wg.campaign import campaign_status

WRITTEN_ACK = NudgeItem(
    rule_id="written-ack",
    title="「承知しました」は いいね！で",
    why="承知・了解・よろしくお願いします等の意味で、「いいね！」のリアクションを付けスマートに。",
    policy_section="2. コミュニケーション～情報の共有《楽にする》いいね！でスマートに",
    suggestion="文章で返信する代わりに「いいね！」のリアクションを付けましょう。",
    quote="承知しました",
    howto_title="チャット (Teams)",
    howto_url="https://portal.example.jp/ms365/chat",
)
PERSONAL_INFO = NudgeItem(
    rule_id="personal-info",
    title="個人情報が含まれているかもしれません",
    why="業務のノウハウは言語化して、個人情報と非公開情報を除いて、原則庁内で情報共有する。",
    policy_section="2. コミュニケーション～情報の共有《習慣にする》業務のノウハウはみんなで共有",
    suggestion="メッセージを編集して個人情報を消すか、メッセージを削除してください。",
    quote=None,
)
HOWTO_URLS = {topic.key: f"https://portal.example.jp/ms365/{topic.key}" for topic in HOWTO_TOPICS}


def _status_card() -> dict[str, Any]:
    submitted = {"bpr": {"D001", "D004"}, "seido-digital": {"D004"}}
    status = campaign_status(
        samples.campaign(),
        samples.catalogue(),
        samples.directory(),
        submitted,
        {"mirise": 3},
        now=samples.DURING,
    )
    return campaign_status_card(status, ["admin-1", "admin-2"])


def _department_card(code: str = "D004", **kwargs: Any) -> dict[str, Any]:
    catalogue = samples.catalogue()
    department = samples.directory().get(code)
    assert department is not None
    wgs = catalogue.for_department(department.name)
    return nomination_request_card(samples.campaign(), department, wgs, catalogue=catalogue, **kwargs)


def _application_card(**kwargs: Any) -> dict[str, Any]:
    catalogue = samples.catalogue()
    return open_application_card(
        samples.campaign(), catalogue["mirise"], directory=samples.directory(), **kwargs
    )


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "nudge, one finding": lambda: nudge_card(NudgeView("n-1", (WRITTEN_ACK,))),
    "nudge, two findings": lambda: nudge_card(NudgeView("n-2", (WRITTEN_ACK, PERSONAL_INFO))),
    "ack helpful": lambda: nudge_ack_card("helpful"),
    "ack not helpful": lambda: nudge_ack_card("not_helpful"),
    "ack snoozed": lambda: nudge_ack_card("snoozed", snoozed_until=datetime(2023, 5, 2, 15, 0, tzinfo=UTC)),
    "ack opted out": lambda: nudge_ack_card("opted_out", rule_title="「承知しました」は いいね！で"),
    "ack expired": lambda: nudge_ack_card("expired"),
    "withdrawn nudge": nudge_withdrawn_card,
    "welcome": lambda: welcome_card(
        HOWTO_URLS, portal_url="https://portal.example.jp/", policy_url="https://portal.example.jp/policy"
    ),
    "welcome without urls": lambda: welcome_card({}),
    "help": help_card,
    "help for admins": lambda: help_card([("WG開始", "募集を始めます"), ("WG状況", "提出状況を表示します")]),
    "rules": lambda: rules_card(
        [
            ("written-ack", "いいね！で返す", "承知しました だけの返信に", True),
            ("personal-info", "個人情報", "共有の場の個人情報に", False),
        ]
    ),
    "rules, none": lambda: rules_card([]),
    "settings, snoozed and opted out": lambda: settings_card(
        datetime(2023, 5, 2, 15, 0, tzinfo=UTC),
        [("written-ack", "いいね！で返す"), ("formulaic-greeting", "定形挨拶")],
    ),
    "settings, nothing": lambda: settings_card(None, []),
    "department form (情報政策課, 7 WGs)": _department_card,
    "department form, small department": lambda: _department_card("D030"),
    "department form with errors": lambda: _department_card(
        errors={"_form": "締切", "bpr.1.name": "氏名を入力してください。"}
    ),
    "department form editing": lambda: _department_card(existing=samples.nomination()),
    "open application": _application_card,
    "open application with errors": lambda: _application_card(
        errors={"motivation": "長すぎます"}, values={"motivation": "x"}
    ),
    "nomination receipt": lambda: submission_receipt_card(
        samples.campaign(),
        samples.department("D004"),
        samples.nomination(),
        samples.catalogue(),
        now=samples.DURING,
    ),
    "nomination receipt after deadline": lambda: submission_receipt_card(
        samples.campaign(),
        samples.department("D004"),
        samples.nomination(),
        samples.catalogue(),
        now=samples.DEADLINE,
    ),
    "application receipt": lambda: application_receipt_card(
        samples.campaign(),
        samples.catalogue()["mirise"],
        samples.application(),
        samples.directory(),
        now=samples.DURING,
    ),
    "withdrawn": withdrawn_card,
    "status": _status_card,
    "reminder": lambda: reminder_card(
        samples.campaign(),
        samples.department("D004"),
        samples.catalogue().for_department("情報政策課"),
    ),
    "open application announcement": lambda: open_application_announcement_card(
        samples.campaign(), samples.catalogue().open_application()
    ),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_card_is_a_valid_teams_1_5_card(name: str) -> None:
    assert_valid_card(BUILDERS[name]())


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def _executes(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _walk(card) if n.get("type") == "Action.Execute"]


def _texts(card: dict[str, Any]) -> str:
    return "\n".join(str(n.get("text", "")) for n in _walk(card) if n.get("type") == "TextBlock")


def _body_after(container_items: list[dict[str, Any]], input_id: str) -> dict[str, Any] | None:
    for index, item in enumerate(container_items):
        if item.get("id") == input_id:
            return container_items[index + 1] if index + 1 < len(container_items) else None
    return None


def _list_holding(card: dict[str, Any], input_id: str) -> list[dict[str, Any]]:
    for node in _walk(card):
        for key in ("body", "items"):
            items = node.get(key)
            if isinstance(items, list) and any(
                isinstance(i, dict) and i.get("id") == input_id for i in items
            ):
                return items
    raise AssertionError(f"no input {input_id}")


def test_several_findings_make_one_card_with_a_section_and_an_opt_out_each() -> None:
    card = nudge_card(NudgeView("n-2", (WRITTEN_ACK, PERSONAL_INFO)))
    opt_outs = [a for a in _executes(card) if a["verb"] == verbs.NUDGE_OPT_OUT]
    assert [a["data"]["rule_id"] for a in opt_outs] == ["written-ack", "personal-info"]
    assert {a["title"] for a in card["actions"]} == {"👍 役に立った", "違うと思う", "今日はもう表示しない"}
    for action in card["actions"]:
        assert action["data"] == {
            "verb": action["verb"],
            "nudge_id": "n-2",
            "rule_ids": ["written-ack", "personal-info"],
        }
    text = _texts(card)
    assert "「承知しました」" in text  # only the matched words are quoted
    assert "「…」" in text and "「編集」" in text and "「削除」" in text  # how, for personal-info
    assert "いいね！" in text
    assert WRITTEN_ACK.why in text and WRITTEN_ACK.policy_section in text
    links = [n for n in _walk(card) if n.get("type") == "Action.OpenUrl"]
    assert [link["url"] for link in links] == ["https://portal.example.jp/ms365/chat"]


def test_a_nudge_needs_a_finding() -> None:
    with pytest.raises(ValueError):
        nudge_card(NudgeView("n", ()))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("helpful", "ありがとうございます"),
        ("not_helpful", "ありがとうございます"),
        ("snoozed", "5月3日(水) 00:00 から"),
        ("opted_out", "「いいね！で返す」は今後表示しません"),
        ("opted_out", "「設定」"),
        ("expired", "閉じています"),
    ],
)
def test_the_acknowledgement_says_what_happened(kind: Any, expected: str) -> None:
    card = nudge_ack_card(
        kind, rule_title="いいね！で返す", snoozed_until=datetime(2023, 5, 2, 15, 0, tzinfo=UTC)
    )
    assert expected in _texts(card)
    assert not _executes(card)  # a second click on an old card has nothing to press


def test_welcome_card_lists_the_twelve_topics_the_policy_and_what_is_not_stored() -> None:
    card = welcome_card(HOWTO_URLS)
    text = _texts(card)
    assert len(HOWTO_TOPICS) == 12
    for topic in HOWTO_TOPICS:
        assert f"[{topic.title}](https://portal.example.jp/ms365/{topic.key})" in text
    for part in (
        "ミッション・ビジョン・バリューを自分事に",
        "コミュニケーション～情報の共有",
        "ツールの活用～オンボーディング",
    ):
        assert part in text
    assert "保存しません" in text


def test_settings_card_offers_an_undo_for_each_setting() -> None:
    card = settings_card(
        datetime(2023, 5, 2, 15, 0, tzinfo=UTC),
        [("written-ack", "いいね！"), ("formulaic-greeting", "定形挨拶")],
    )
    executes = _executes(card)
    assert [a["verb"] for a in executes] == [
        verbs.SETTINGS_UNSNOOZE,
        verbs.SETTINGS_OPTIN,
        verbs.SETTINGS_OPTIN,
    ]
    assert [a["data"].get("rule_id") for a in executes[1:]] == ["written-ack", "formulaic-greeting"]


def test_rules_card_shows_each_rule_and_its_state() -> None:
    text = _texts(rules_card([("a", "ルールA", "説明A", True), ("b", "ルールB", "説明B", False)]))
    assert "**ルールA**（有効）" in text and "説明A" in text and "**ルールB**（停止中）" in text


def test_department_form_has_a_people_picker_and_slots_per_quota() -> None:
    card = _department_card("D004")
    pickers = [n for n in _walk(card) if n.get("type") == "Input.ChoiceSet" and "choices.data" in n]
    assert {p["choices.data"]["dataset"] for p in pickers} == {"graph.microsoft.com/users"}
    picker_ids = [p["id"] for p in pickers]
    assert picker_ids[:3] == ["bpr.1.aad", "bpr.2.aad", "seido-digital.1.aad"]  # BPR takes two
    assert len(pickers) == 8  # 情報政策課: BPR (2) + six ② WGs
    submit = card["actions"][0]
    assert submit["verb"] == verbs.NOMINATION_SUBMIT
    assert submit["data"] == {
        "verb": verbs.NOMINATION_SUBMIT,
        "campaign_id": "fy2023",
        "department_code": "D004",
    }


@pytest.mark.parametrize(
    "field", ["bpr.1.name", "bpr.2.aad", "seido-digital.1.position", "mynumber.1.status", "bpr.1.note"]
)
def test_department_form_error_sits_right_under_its_field_and_values_stay(field: str) -> None:
    values = {
        "bpr.1.name": "前橋 太郎",
        "bpr.1.position": "主任",
        "bpr.1.note": "メモ",
        "bpr.2.aad": samples.BOB,
    }
    card = _department_card(errors={field: "ここが違います。"}, values=values)
    items = _list_holding(card, field)
    following = _body_after(items, field)
    assert following == {
        "type": "TextBlock",
        "text": "ここが違います。",
        "wrap": True,
        "color": "attention",
        "size": "Small",
        "spacing": "None",
    }
    by_id = {n["id"]: n for n in _walk(card) if isinstance(n.get("id"), str)}
    assert by_id["bpr.1.name"]["value"] == "前橋 太郎"
    assert by_id["bpr.1.note"]["value"] == "メモ"
    assert by_id["bpr.2.aad"]["value"] == samples.BOB
    assert _texts(card).count("ここが違います。") == 1


def test_department_form_shows_whole_card_and_per_wg_errors_at_the_top_of_their_part() -> None:
    card = _department_card(errors={"_form": "この募集は締め切られました。", "bpr": "2名までです。"})
    text = _texts(card)
    assert "この募集は締め切られました。" in text and "2名までです。" in text


def test_editing_prefills_the_existing_nomination() -> None:
    card = _department_card(existing=samples.nomination())
    by_id = {n["id"]: n for n in _walk(card) if isinstance(n.get("id"), str)}
    assert by_id["bpr.1.name"]["value"] == "前橋 太郎"
    assert by_id["bpr.1.status"]["value"] == "continuing"
    assert by_id["bpr.2.aad"]["choices"] == [{"title": "赤城 花子", "value": samples.BOB}]
    assert by_id["seido-digital.1.position"]["value"] == "係長"
    assert card["actions"][0]["title"] == "変更を提出する"


def test_open_application_form_has_themes_limit_and_agreement() -> None:
    card = _application_card(
        errors={"themes": "テーマを選んでください。"},
        values={"themes": "複業,窓口", "motivation": "やりたい"},
    )
    by_id = {n["id"]: n for n in _walk(card) if isinstance(n.get("id"), str)}
    themes = by_id["themes"]
    assert themes["isMultiSelect"] is True
    assert [c["value"] for c in themes["choices"]] == [
        "複業",
        "人材バンク",
        "ピアボーナス",
        "ABW（働き方）",
        "窓口",
        "コミュニケーションポリシー",
        "チャレンジ&アジャイル（自由課題）",
    ]
    assert themes["value"] == "複業,窓口"
    assert by_id["motivation"]["maxLength"] == 400 and by_id["motivation"]["value"] == "やりたい"
    assert by_id["supervisor_agreed"]["type"] == "Input.Toggle"
    assert _body_after(_list_holding(card, "themes"), "themes")["text"] == "テーマを選んでください。"  # type: ignore[index]


def test_receipt_offers_edit_and_withdraw_only_until_the_deadline() -> None:
    department = samples.department("D004")
    assert department is not None
    before = submission_receipt_card(
        samples.campaign(), department, samples.nomination(), samples.catalogue(), now=samples.DURING
    )
    after = submission_receipt_card(
        samples.campaign(), department, samples.nomination(), samples.catalogue(), now=samples.DEADLINE
    )
    assert [a["verb"] for a in _executes(before)] == [verbs.NOMINATION_EDIT, verbs.NOMINATION_WITHDRAW]
    assert _executes(after) == []
    assert "前橋 太郎（主任・継続）" in _texts(before)


def test_status_card_counts_and_refreshes_for_admins() -> None:
    card = _status_card()
    assert card["refresh"]["userIds"] == ["admin-1", "admin-2"]
    assert card["refresh"]["action"]["verb"] == verbs.CAMPAIGN_STATUS_REFRESH
    text = _texts(card)
    assert "BPR推進WG　2 / 81 所属 提出済み" in text
    assert "制度デジタル化WG　1 / 4 所属 提出済み" in text
    assert "未提出（3）：行政管理課、財政課、会計室" in text
    assert "公募：応募 3 件" in text
    assert "募集は別途案内" in text


def test_cards_carry_no_text_a_person_wrote_beyond_what_was_passed() -> None:
    # The nudge view is the only input; nothing else (e.g. a message) can reach the card.
    card = nudge_card(NudgeView("n-1", (WRITTEN_ACK,)))
    assert "承知しました" in json.dumps(card, ensure_ascii=False)


def _submitted_values(card: dict[str, Any]) -> dict[str, str]:
    """What Teams sends for an untouched card: each input's initial value, '' when none."""
    return {
        n["id"]: str(n.get("value", ""))
        for n in _walk(card)
        if str(n.get("type", "")).startswith("Input.") and n.get("type") != "Input.Choice"
    }


def test_the_department_forms_inputs_are_what_the_parser_reads() -> None:
    from wg.forms import FormErrors, Nomination, parse_nomination

    catalogue = samples.catalogue()
    department = samples.department("D003")  # 会計室: BPR (2 rows), 制度デジタル化WG, 内部統制のDX推進WG
    card = nomination_request_card(
        samples.campaign(), department, catalogue.for_department("会計室"), catalogue=catalogue
    )
    values = _submitted_values(card)
    untouched = parse_nomination(
        values,
        campaign=samples.campaign(),
        department=department,
        catalogue=catalogue,
        submitted_by="x",
        now=samples.DURING,
    )
    assert isinstance(untouched, FormErrors)
    assert set(untouched.errors) == {"bpr.1.name", "seido-digital.1.name", "naibu-tosei.1.name"}

    for wg_id, person in (
        ("bpr", samples.ALICE),
        ("seido-digital", samples.BOB),
        ("naibu-tosei", samples.CAROL),
    ):
        values |= {f"{wg_id}.1.name": "氏名", f"{wg_id}.1.aad": person, f"{wg_id}.1.position": "主事"}
    filled = parse_nomination(
        values,
        campaign=samples.campaign(),
        department=department,
        catalogue=catalogue,
        submitted_by="x",
        now=samples.DURING,
    )
    assert isinstance(filled, Nomination), getattr(filled, "errors", None)
    assert len(filled.nominees) == 3  # the untouched second BPR row is nobody

    again = nomination_request_card(
        samples.campaign(),
        department,
        catalogue.for_department("会計室"),
        catalogue=catalogue,
        existing=filled,
    )
    assert {k: v for k, v in _submitted_values(again).items() if v} == {k: v for k, v in values.items() if v}


def test_the_application_forms_inputs_are_what_the_parser_reads() -> None:
    from wg.forms import OpenApplication, parse_application

    card = _application_card()
    values = _submitted_values(card) | {
        "name": "前橋 太郎",
        "department": "D001",
        "position": "主事",
        "themes": "窓口",
        "motivation": "窓口をよくしたい",
        "supervisor_agreed": "true",
    }
    assert set(values) == {"name", "department", "position", "themes", "motivation", "supervisor_agreed"}
    data = values | card["actions"][0]["data"]
    result = parse_application(
        data,
        campaign=samples.campaign(),
        catalogue=samples.catalogue(),
        directory=samples.directory(),
        applicant_aad_id=samples.ALICE,
        now=samples.DURING,
    )
    assert isinstance(result, OpenApplication) and result.themes == ("窓口",)
