"""Hot reload: a broken edit keeps the previous rules and exposes the errors; a good one swaps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_rules import MessageInput, RuleLoadError
from policy_rules.reload import ReloadingRuleSet

RULE = """\
rules:
  - id: custom-rule
    title_ja: テスト
    explanation_ja: 説明
    policy_section: テスト
    detectors:
      - kind: phrase_set
        phrases: [{phrase}]
    nudge: {{title: 題, body: 本文, suggestion: 提案}}
"""


def edit(path: Path, text: str, generation: int) -> None:
    """Write and move the mtime on, so a stat-based check sees the change on any file system."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_700_000_000_000_000_000 + generation * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def fires(reloading: ReloadingRuleSet, text: str) -> bool:
    return "custom-rule" in reloading.current.fired_rule_ids(MessageInput(text))


def test_broken_edit_keeps_previous_rules_then_next_good_version_swaps(tmp_path: Path) -> None:
    rule_file = tmp_path / "custom.yaml"
    edit(rule_file, RULE.format(phrase="りんご"), 1)
    reloading = ReloadingRuleSet([tmp_path])
    first_version = reloading.current.version
    assert fires(reloading, "りんご") and reloading.errors == []
    assert reloading.check_for_changes() is False  # nothing changed

    edit(rule_file, RULE.format(phrase="りんご").replace("kind: phrase_set", "kind: nonsense"), 2)
    assert reloading.check_for_changes() is False
    assert reloading.current.version == first_version
    assert fires(reloading, "りんご")
    assert reloading.errors and reloading.errors[0].file == str(rule_file)
    assert reloading.errors[0].line == 7

    assert reloading.check_for_changes() is False  # still broken, still reported
    assert reloading.errors

    edit(rule_file, RULE.format(phrase="みかん"), 3)
    assert reloading.check_for_changes() is True
    assert reloading.errors == []
    assert fires(reloading, "みかん") and not fires(reloading, "りんご")
    assert reloading.current.version != first_version


def test_new_file_is_picked_up(tmp_path: Path) -> None:
    reloading = ReloadingRuleSet([tmp_path])
    assert not fires(reloading, "ぶどう")
    edit(tmp_path / "new.yaml", RULE.format(phrase="ぶどう"), 1)
    assert reloading.check_for_changes() is True
    assert fires(reloading, "ぶどう")


def test_broken_rules_refuse_to_start(tmp_path: Path) -> None:
    edit(tmp_path / "bad.yaml", "rules: [1, 2]\n", 1)
    with pytest.raises(RuleLoadError):
        ReloadingRuleSet([tmp_path])
