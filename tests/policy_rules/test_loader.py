"""Loading rule files: overrides and extensions, and every error at once with file, line, path."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_rules import MessageInput, RuleLoadError, load_rule_set

GOOD_RULE = """\
rules:
  - id: {rule_id}
    title_ja: テスト
    explanation_ja: テストのルール
    policy_section: テスト
    detectors:
      - kind: phrase_set
        phrases: [{phrase}]
    nudge:
      title: 題
      body: 「{{quote}}」
      suggestion: 提案
    examples:
      fire: [{phrase}です]
      no_fire: [関係ない文]
"""

BROKEN = """\
rules:
  - id: bad-rule
    title_ja: 壊れたルール
    explanation_ja: 説明
    policy_section: テスト
    severity: fatal
    colour: red
    detectors:
      - kind: magic
        phrases: [a]
      - kind: phrase_set
        phrases: ["(unclosed"]
        scope: everywhere
    nudge:
      title: 題
      body: "{unknown_placeholder}"
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_directory_extends_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, "extra.yaml", GOOD_RULE.format(rule_id="custom-rule", phrase="合言葉"))
    rules = load_rule_set([tmp_path])
    assert "custom-rule" in {r.id for r in rules.rules}
    assert len(rules.rules) == 7
    assert "custom-rule" in rules.fired_rule_ids(MessageInput("合言葉です"))


def test_same_id_overrides_the_default(tmp_path: Path) -> None:
    write(tmp_path, "override.yaml", GOOD_RULE.format(rule_id="written-ack", phrase="合言葉"))
    rules = load_rule_set([tmp_path])
    assert len(rules.rules) == 6
    assert rules.rule("written-ack").title_ja == "テスト"
    assert rules.fired_rule_ids(MessageInput("承知しました")) == []
    assert rules.version != load_rule_set().version


def test_every_error_is_reported_with_file_line_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN)
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    errors = caught.value.errors
    by_path = {e.field_path: e for e in errors}
    assert all(e.file == str(path) for e in errors)
    assert by_path["rules[0].severity"].line == 6
    assert by_path["rules[0].colour"].line == 7
    assert "未知の項目" in by_path["rules[0].colour"].message_ja
    assert "Extra inputs" in by_path["rules[0].colour"].message_en
    assert by_path["rules[0].detectors[0]"].line == 9
    assert "kind" in by_path["rules[0].detectors[0]"].message_ja
    assert by_path["rules[0].detectors[1].phrases"].line == 12
    assert "正規表現" in by_path["rules[0].detectors[1].phrases"].message_ja
    assert by_path["rules[0].detectors[1].scope"].line == 13
    assert by_path["rules[0].nudge.body"].line == 16
    assert "unknown_placeholder" in by_path["rules[0].nudge.body"].message_en
    assert by_path["rules[0].nudge.suggestion"].message_ja == "必須の項目がありません"
    text = str(caught.value)
    assert text.count(str(path)) == len(errors) >= 7


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    write(tmp_path, "syntax.yaml", "rules:\n  - id: x\n    title_ja: [unclosed\n")
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    [error] = caught.value.errors
    assert error.line is not None and error.line >= 3
    assert "YAML" in error.message_ja and "YAML" in error.message_en


def test_errors_from_several_files_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "rules:\n  - id: Bad Id\n")
    write(tmp_path, "b.yaml", "- just a list\n")
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    files = {Path(e.file).name for e in caught.value.errors}
    assert files == {"a.yaml", "b.yaml"}


def test_duplicate_ids_in_one_directory(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD_RULE.format(rule_id="same-rule", phrase="甲"))
    write(tmp_path, "b.yaml", GOOD_RULE.format(rule_id="same-rule", phrase="乙"))
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    assert any("same-rule" in e.message_en for e in caught.value.errors)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path / "nope"])
    assert "ディレクトリ" in caught.value.errors[0].message_ja


def test_unknown_howto_topic_is_refused(tmp_path: Path) -> None:
    text = GOOD_RULE.format(rule_id="topic-rule", phrase="甲").replace(
        "    policy_section: テスト\n", "    policy_section: テスト\n    howto_topic: 未知のトピック\n"
    )
    write(tmp_path, "t.yaml", text)
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    [error] = caught.value.errors
    assert error.field_path == "rules[0].howto_topic" and error.line == 6


@pytest.mark.parametrize(
    ("extra_line", "short_title"),
    [("", "テスト"), ("    short_title_ja: 短い名前\n", "短い名前")],
    ids=["defaults to title_ja", "given"],
)
def test_short_titles_name_every_loaded_rule(tmp_path: Path, extra_line: str, short_title: str) -> None:
    text = GOOD_RULE.format(rule_id="custom-rule", phrase="合言葉").replace(
        "    title_ja: テスト\n", "    title_ja: テスト\n" + extra_line
    )
    write(tmp_path, "extra.yaml", text)
    titles = load_rule_set([tmp_path]).short_titles()
    assert titles["custom-rule"] == short_title
    assert titles["written-ack"] == "「承知しました」は いいね！で"  # the default YAML's own
    assert len(titles) == 7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('""', "空にはできません"),
        ("二十五文字を超える長すぎる短い名前はダッシュボードに収まりません", "長すぎます（24 文字まで）"),
    ],
    ids=["empty", "too long"],
)
def test_a_bad_short_title_is_reported_with_its_line(tmp_path: Path, value: str, message: str) -> None:
    text = GOOD_RULE.format(rule_id="custom-rule", phrase="合言葉").replace(
        "    title_ja: テスト\n", f"    title_ja: テスト\n    short_title_ja: {value}\n"
    )
    path = write(tmp_path, "extra.yaml", text)
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set([tmp_path])
    [error] = caught.value.errors
    assert (error.file, error.line, error.field_path) == (str(path), 4, "rules[0].short_title_ja")
    assert error.message_ja in ("空にはできません", "長すぎます（24 文字まで）")
    assert error.message_ja == message
