"""Speed gates: the words a pattern needs, and gates never change what the rules find."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_rules import MessageInput, RuleSet, load_rule_set
from policy_rules.engine import Rule, example_message
from policy_rules.kinds import required_literals
from policy_rules.loader import parse_rule_text

LITERAL_CASES = [
    # (pattern, words one of which every match holds; None: no such set is known)
    ("電話ください", ("電話ください",)),
    ("お?(?:疲|つか)れ様", ("れ様",)),  # the rarest part: a kanji weighs more than kana
    ("お?(?:疲|つか)れ", ("つか", "疲")),
    ("(?:課|係)[^。]{0,12}?(?:です|と申します)", ("係", "課")),
    ("生年月日|誕生日|\\d日?(?:生|うまれ)", ("うまれ", "生")),
    ("(?:お電話|電話)で", ("電話",)),  # お電話 holds 電話: the shorter word is enough
    ("a?", None),
    ("\\d{3}", None),
    ("[^a]x", ("x",)),
    ("ab(?i:c)", ("ab",)),  # case-insensitive parts are left out
    ("(?i)abc", None),
    ("x|\\d", None),  # one branch needs nothing known
    ("[a-z]q", ("q",)),  # a large class is no word
]
PROBES = [
    "電話ください",
    "お疲れ様",
    "おつかれ様",
    "課長です",
    "係と申します",
    "生年月日",
    "1日生まれ",
    "x",
    "abc",
    "aBc",
    "zq",
    "",
]


@pytest.mark.parametrize(("pattern", "expected"), LITERAL_CASES)
def test_required_literals(pattern: str, expected: tuple[str, ...] | None) -> None:
    words = required_literals(pattern)
    assert words == expected
    if words is not None:
        for text in PROBES:  # necessary: whenever the pattern matches, one of the words is there
            if re.search(pattern, text, re.MULTILINE):
                assert any(w in text for w in words), (pattern, text)


def _without_gates(rules: RuleSet) -> RuleSet:
    """The same rules with every gate removed (what the detectors alone would find)."""
    bare = RuleSet(rules.rules)
    bare._plans = {
        conversation_type: tuple(
            (rule, kind, options, None, ()) for rule, kind, options, _gate, _more in plan
        )
        for conversation_type, plan in bare._plans.items()
    }
    return bare


DEFAULT_RULES = load_rule_set()
UNGATED = _without_gates(DEFAULT_RULES)


def _key(rules: RuleSet, message: MessageInput) -> list[tuple[str, int, int]]:
    return [(f.rule_id, f.start, f.end) for f in rules.evaluate(message)]


def _one_rule(detector: str) -> RuleSet:
    text = (
        "rules:\n  - id: gated\n    title_ja: t\n    explanation_ja: e\n    policy_section: p\n"
        f"    detectors: [{detector}]\n    nudge: {{title: t, body: b, suggestion: s}}\n"
    )
    specs, issues = parse_rule_text(text, "inline.yaml")
    assert not issues, issues
    return RuleSet([Rule(specs[0], "inline.yaml")])


def test_the_ungated_reference_runs_without_gates() -> None:
    assert all(gate is None and more == () for plan in UNGATED._plans.values() for *_, gate, more in plan)
    assert sum(map(len, UNGATED._plans.values())) == sum(map(len, DEFAULT_RULES._plans.values()))
    # a prefilter that never matches: only the gate stops the detector, and only when gated
    rules = _one_rule("{kind: phrase_set, phrases: [電話ください], prefilter: 決して書かれない語}")
    message = MessageInput("電話ください")
    assert rules.evaluate(message) == []
    assert _key(_without_gates(rules), message) == [("gated", 0, 6)]


def test_gates_agree_on_every_rule_example() -> None:
    for rule in DEFAULT_RULES.rules:
        for example in [*rule.spec.examples.fire, *rule.spec.examples.no_fire]:
            message = example_message(example, rule)
            assert _key(DEFAULT_RULES, message) == _key(UNGATED, message), example.text


# pieces of the policy's own vocabulary, shuffled into messages the gates must not misjudge
PIECES = [
    "お疲れ様です",
    "おつかれさまです",
    "いつもお世話になっております",
    "税務課の",
    "山田です",
    "と申します",
    "各位",
    "様",
    "\n",
    "----",
    "内線1234",
    "027-123-4567",
    "tel:027-000-0000",
    "いつでも",
    "お電話を",
    "電話してね",
    "電話",
    "ください",
    "で説明します",
    "何かあれば",
    "まで",
    "どうぞ",
    "至急",
    "承知しました",
    "了解です",
    "ありがとうございます",
    "どうすれば",
    "いいですか",
    "手順を",
    "教えて",
    "Excelの",
    "①",
    "1.",
    "を選択",
    "してください",
    "090-1111-2222",
    "123456789018",
    "生年月日は",
    "昭和50年1月2日",
    "高崎市本町3-4-5",
    "口座番号",
    "3456789",
    "taro@example.com",
    "「",
    "」",
    "。",
    "、",
    " ",
    "ｗ",
    "🙏",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=12),
    st.sampled_from(["channel", "groupChat", "personal"]),
)
def test_gates_never_change_findings(pieces: list[str], conversation_type: str) -> None:
    message = MessageInput("".join(pieces), conversation_type)  # type: ignore[arg-type]
    assert _key(DEFAULT_RULES, message) == _key(UNGATED, message)
