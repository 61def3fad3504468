"""Policy rule engine: YAML rules and Japanese-aware detectors for the communication policy.

Pure: no network, no database, no botbuilder. See docs/rules.md.
"""

from policy_rules.engine import Rule, RuleSet, load_rule_set
from policy_rules.errors import RuleIssue, RuleLoadError
from policy_rules.model import Finding, MessageInput

__all__ = ["Finding", "MessageInput", "Rule", "RuleIssue", "RuleLoadError", "RuleSet", "load_rule_set"]
