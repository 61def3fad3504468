"""Shared fixtures: the default rules, loaded once per session."""

from __future__ import annotations

import pytest

from policy_rules import RuleSet, load_rule_set


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    """The packaged default rule set."""
    return load_rule_set()
