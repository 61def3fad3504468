"""Each detector kind as a table of texts that must and must not fire, with small inline rules."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from policy_rules import MessageInput
from policy_rules.engine import Rule, RuleSet
from policy_rules.kinds import first_char_hint
from policy_rules.loader import parse_rule_text
from policy_rules.registry import DETECTOR_KINDS, DetectorKind

NUDGE = {"title": "t", "body": "b {quote}", "suggestion": "s"}


def make_rules(detector: dict[str, Any], rule_id: str = "test-rule", **extra: Any) -> RuleSet:
    """A one-rule set from a detector dict (validated exactly like a YAML file)."""
    spec = {
        "id": rule_id,
        "title_ja": "テスト",
        "explanation_ja": "テスト",
        "policy_section": "テスト",
        "detectors": [detector],
        "nudge": NUDGE,
        **extra,
    }
    rules, issues = parse_rule_text(yaml.safe_dump({"rules": [spec]}, allow_unicode=True), "inline.yaml")
    assert not issues, issues
    return RuleSet([Rule(rules[0], "inline.yaml")])


def fires(rules: RuleSet, text: str, conversation_type: str = "channel", attachments: tuple = ()) -> bool:  # type: ignore[type-arg]
    message = MessageInput(text=text, conversation_type=conversation_type, attachments=attachments)  # type: ignore[arg-type]
    return bool(rules.evaluate(message))


PHRASE_SET = make_rules({"kind": "phrase_set", "phrases": ["お電話ください", "オッケー"]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手が空いたらお電話ください", True),
        ("ｵｯｹｰです", True),  # width and kana folded like the pattern
        ("おっけーです", True),
        ("「お電話ください」で終わるのはやめましょう", False),  # quoted
        ("お電話くださいと言われました", False),  # discussed (topic guard)
        ("電話対応", False),
    ],
)
def test_phrase_set(text: str, expected: bool) -> None:
    assert fires(PHRASE_SET, text) is expected


OPENING = make_rules(
    {"kind": "phrase_set", "scope": "opening", "opening_sentences": 1, "phrases": ["本日は"]}
)
FIRST_LINE = make_rules(
    {"kind": "phrase_set", "scope": "first_line", "full_line": True, "phrases": ["[^、。]{1,10}各位"]}
)


@pytest.mark.parametrize(
    ("rules", "text", "expected"),
    [
        (OPENING, "本日は晴れです", True),
        (OPENING, "明日です。本日は晴れです", False),
        (FIRST_LINE, "関係各位\n本文", True),
        (FIRST_LINE, "関係各位への周知文です", False),
        (FIRST_LINE, "本文\n関係各位", False),
    ],
)
def test_phrase_set_scopes(rules: RuleSet, text: str, expected: bool) -> None:
    assert fires(rules, text) is expected


WHOLE = make_rules(
    {
        "kind": "whole_message",
        "phrases": ["了解(?:です)?", "ありがとうございます"],
        "fillers": ["[一-龥]{1,4}さん"],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("了解です", True),
        ("山田さん、了解です。ありがとうございます🙏", True),
        ("<at>山田</at> 了解ですｗ", True),
        ("了解です。では15時に", False),
        ("山田さん", False),  # fillers alone are not enough
        ("👍", False),
        ("", False),
    ],
)
def test_whole_message(text: str, expected: bool) -> None:
    assert fires(WHOLE, text) is expected


CONTEXT = make_rules(
    {"kind": "pattern_context", "patterns": ["どうすれば"], "context_any": ["システム|様式"]}
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("システムで取り消すにはどうすればいいですか", True),
        ("様式の直し方、どうすれば？", True),
        ("お昼はどうすればいい？システムの件は後で", False),  # context in another sentence
    ],
)
def test_pattern_context(text: str, expected: bool) -> None:
    assert fires(CONTEXT, text) is expected


STEPS = make_rules(
    {
        "kind": "step_by_step",
        "instructions": ["てください|でできます|をクリック"],
        "not_if_any": ["置きました"],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("①設定を開く\n②「追加」をクリック\nでできます", True),
        ("1. 画面を開く\n2. 保存してください", True),
        ("A→B でできます", False),  # one step, one instruction
        ("「総務」→「会議」→「11月」に置きました。確認してください", False),
        ("今日は晴れ", False),
    ],
)
def test_step_by_step(text: str, expected: bool) -> None:
    assert fires(STEPS, text) is expected


SIGNATURE = make_rules(
    {"kind": "signature_block", "affiliation": ["^[^0-9:]{0,10}課[^0-9:]{0,10}$"], "contact": ["内線\\d"]}
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("本文です。\n----\n総務課 山田\n----", True),
        ("本文です。\n総務課 山田\n内線 1234", True),
        ("本文です。\n総務課 山田", False),  # a bare sign-off
        ("----\n議題\n----\n1. 予算", False),
        ("総務課 山田\n内線 1234", False),  # nothing but the block: no, there must be content
    ],
)
def test_signature_block(text: str, expected: bool) -> None:
    assert fires(SIGNATURE, text) is expected


PERSONAL = make_rules(
    {"kind": "personal_data", "identifiers": ["phone_number", "email_address"]},
    allow={"phone_numbers": ["027-224-1111"], "email_domains": ["example.org"]},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("090-1234-5678", True),
        ("027-224-1111", False),
        ("a@example.org", False),
        ("a@example.com", True),
    ],
)
def test_personal_data(text: str, expected: bool) -> None:
    assert fires(PERSONAL, text) is expected


def test_personal_data_quote_is_a_label_never_the_datum() -> None:
    [finding] = PERSONAL.evaluate(MessageInput("連絡先は090-1234-5678です"))
    assert finding.quote == "電話番号"
    assert finding.category == "phone_number"
    assert "090-1234-5678"[0:3] not in finding.quote
    assert "連絡先は090-1234-5678です"[finding.start : finding.end] == "090-1234-5678"


AUDIO = make_rules(
    {"kind": "attachment_type", "content_type_prefixes": ["audio/"], "extensions": ["m4a", ".MP3"]}
)


@pytest.mark.parametrize(
    ("attachments", "expected"),
    [
        ((("audio/ogg", "x"),), True),
        ((("application/octet-stream", "MEMO.M4A"),), True),
        ((("application/octet-stream", "memo.mp3"),), True),
        ((("video/mp4", "clip.mp4"),), False),
        ((("application/pdf", "audio_guide.pdf"),), False),
        ((("text/plain", "x.mp3.txt"),), False),
        ((), False),
    ],
)
def test_attachment_type(attachments: tuple, expected: bool) -> None:  # type: ignore[type-arg]
    assert fires(AUDIO, "添付です", attachments=attachments) is expected


def test_attachment_prefixes_are_case_insensitive() -> None:
    rules = make_rules({"kind": "attachment_type", "content_type_prefixes": ["Audio/"]})
    assert rules.rule("test-rule").spec.detectors[0].content_type_prefixes == ["audio/"]  # type: ignore[union-attr]
    assert fires(rules, "添付です", attachments=(("AUDIO/OGG", "x"),))
    assert fires(rules, "添付です", attachments=(("audio/ogg", "x"),))
    assert not fires(rules, "添付です", attachments=(("video/mp4", "x"),))


@pytest.mark.parametrize("prefilter", ["至急|今すぐ", "(?:至急|今すぐ)(?:で|に)?"])
def test_a_prefilter_adds_a_condition_to_the_derived_gate(prefilter: str) -> None:
    rules = make_rules({"kind": "phrase_set", "phrases": ["電話ください"], "prefilter": prefilter})
    gates = [g.pattern for g in rules.rule("test-rule")._detectors[0][1].gates]
    assert gates == [prefilter, "電話ください"]  # the gate derived from the phrases stays
    assert fires(rules, "今すぐ電話ください")
    assert not fires(rules, "電話ください")  # documented: a prefilter narrows the detector
    assert not fires(rules, "今すぐ返事ください")


def test_scope_by_conversation_type() -> None:
    rules = make_rules({"kind": "phrase_set", "phrases": ["テスト"]}, conversation_types=["personal"])
    assert fires(rules, "テスト", "personal")
    assert not fires(rules, "テスト", "channel")


def test_unless_any_exempts_the_whole_message() -> None:
    rules = make_rules({"kind": "phrase_set", "phrases": ["電話ください"]}, unless_any=["至急"])
    assert fires(rules, "電話ください")
    assert not fires(rules, "【至急】電話ください")


def test_allow_phrases_drop_a_finding() -> None:
    rules = make_rules(
        {"kind": "phrase_set", "phrases": ["電話ください"]}, allow={"phrases": ["電話ください"]}
    )
    assert not fires(rules, "電話ください")


def test_a_failing_detector_skips_only_its_rule(caplog: pytest.LogCaptureFixture) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("boom")

    broken = make_rules({"kind": "phrase_set", "phrases": ["秘密"]}).rule("test-rule")
    broken._detectors = [
        (DetectorKind("exploding", DETECTOR_KINDS["phrase_set"].options_model, explode), SimpleNamespace())
    ]
    healthy = make_rules({"kind": "phrase_set", "phrases": ["秘密"]}, rule_id="healthy").rule("healthy")
    rules = RuleSet([broken, healthy])
    with caplog.at_level(logging.ERROR):
        findings = rules.evaluate(MessageInput("秘密の電話番号は090-1234-5678"))
    assert [f.rule_id for f in findings] == ["healthy"]
    assert "exploding" in caplog.text
    assert "秘密" not in caplog.text and "090" not in caplog.text


@pytest.mark.parametrize(
    ("pattern", "hinted"),
    [
        ("(?:お?電話|tel)ください|折り?返し", "(?=[tお折電])"),
        ("(?:^|x)y", "(?=[xy])"),
        ("(?:いつも)?お世話", "(?=[いお])"),
        ("[^a]x", None),  # negated set: no hint
        (r"\dx", None),  # category: no hint
        ("a?", None),  # can match empty: no hint
    ],
)
def test_first_char_hint(pattern: str, hinted: str | None) -> None:
    result = first_char_hint(pattern)
    if hinted is None:
        assert result == pattern
    else:
        assert result.startswith(hinted)
    for text in ("電話ください", "折返し", "xy", "y", "お世話", "いつもお世話", "bx", "1x", ""):
        assert bool(re.search(result, text)) == bool(re.search(pattern, text))
