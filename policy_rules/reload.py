"""Hot reload: keep the rules in force, swap in the next good version of the files."""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Iterable
from pathlib import Path

from policy_rules.engine import RuleSet, load_rule_set
from policy_rules.errors import RuleIssue, RuleLoadError

logger = logging.getLogger(__name__)

Stamp = tuple[tuple[str, int, int], ...]


class ReloadingRuleSet:
    """The RuleSet in force plus the last load errors; ``check_for_changes`` polls file stats.

    The first load raises RuleLoadError (the service must not start with broken rules);
    later broken edits keep the previous rules and expose the errors instead.
    """

    def __init__(self, extra_dirs: Iterable[Path] = ()) -> None:
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self._stamp = self._stat()
        self.current: RuleSet = load_rule_set(self.extra_dirs)
        self.errors: list[RuleIssue] = []

    def _stat(self) -> Stamp:
        entries: list[tuple[str, int, int]] = []
        package = Path(str(importlib.resources.files("policy_rules.rules")))
        for directory in [package, *self.extra_dirs]:
            try:
                paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
            except OSError:
                entries.append((str(directory), -1, -1))
                continue
            for path in paths:
                try:
                    st = path.stat()
                except OSError:
                    continue
                entries.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(entries)

    def check_for_changes(self) -> bool:
        """Reload when a rule file changed; True when new rules were swapped in."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            candidate = load_rule_set(self.extra_dirs)
        except RuleLoadError as exc:
            self.errors = exc.errors
            logger.error("rule reload refused, keeping version %s:\n%s", self.current.version, exc)
            return False
        self.errors = []
        changed = candidate.version != self.current.version
        self.current = candidate
        if changed:
            logger.info("rules reloaded: version %s", candidate.version)
        return changed
