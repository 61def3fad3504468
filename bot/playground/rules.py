"""The ``rules_status`` the playground shows, read from the hot-reloading rule set."""

from __future__ import annotations

from typing import Any

from policy_rules.reload import ReloadingRuleSet


def reloading_rules_status(rules: ReloadingRuleSet, *, check: bool = True) -> dict[str, Any]:
    """``{"ok", "version", "errors": [{"file", "line", "field_path", "message_ja"}]}`` of ``rules``.

    ``check`` looks for edited files first (a few ``stat`` calls), so the page shows an edit
    as soon as it asks instead of at the next tick of the reload task.
    """
    if check:
        rules.check_for_changes()
    return {
        "ok": not rules.errors,
        "version": rules.current.version,
        "errors": [
            {
                "file": issue.file,
                "line": issue.line,
                "field_path": issue.field_path,
                "message_ja": issue.message_ja,
            }
            for issue in rules.errors
        ],
    }
