"""The rule set: evaluates a message against every enabled rule and returns findings."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from policy_rules.errors import MESSAGES, RuleIssue
from policy_rules.identifiers import AllowSets, masked_quote
from policy_rules.kinds import compile_patterns
from policy_rules.loader import load_rule_specs
from policy_rules.model import CONVERSATION_TYPES, Finding, Hit, MessageInput
from policy_rules.normalize import MatchView, build_view
from policy_rules.registry import DETECTOR_KINDS, DetectorKind
from policy_rules.schema import Example, Nudge, RuleSpec

logger = logging.getLogger(__name__)
_QUOTE_MAX = 40


_Gate = re.Pattern[str]
# one detector of one rule: the rule, the kind, its prepared options, its first gate and the others
_PlanStep = tuple["Rule", DetectorKind, object, _Gate | None, tuple[_Gate, ...]]


def _first_and_rest(gates: Iterable[_Gate]) -> tuple[_Gate | None, tuple[_Gate, ...]]:
    """The first gate apart (most detectors have one) and the others."""
    listed = tuple(gates)
    return (listed[0], listed[1:]) if listed else (None, ())


def _position_then_rule(finding: Finding) -> tuple[int, str]:
    return finding.start, finding.rule_id


class _SafeDict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class ExampleFailure:
    """An example that did not behave as its rule says."""

    rule_id: str
    file: str
    should_fire: bool
    text: str


class Rule:
    """A loaded rule: its YAML spec plus compiled matchers."""

    def __init__(self, spec: RuleSpec, source: str) -> None:
        self.spec = spec
        self.source = source
        self._unless = compile_patterns(spec.unless_any)
        self._allow_phrases = compile_patterns(spec.allow.phrases)
        self._allow_sets = AllowSets(spec.allow.phone_numbers, spec.allow.addresses, spec.allow.email_domains)
        self._detectors = [
            (DETECTOR_KINDS[d.kind], d.prepare())  # type: ignore[attr-defined]  # every kind model has `kind`
            for d in spec.detectors
        ]
        self._id, self._severity, self._skip_quoted = spec.id, spec.severity, spec.skip_quoted
        self._types = frozenset(spec.conversation_types) if spec.enabled else frozenset()

    id = property(lambda self: self.spec.id)
    title_ja = property(lambda self: self.spec.title_ja)
    short_title_ja = property(lambda self: self.spec.short_title_ja or self.spec.title_ja)
    explanation_ja = property(lambda self: self.spec.explanation_ja)
    policy_section = property(lambda self: self.spec.policy_section)
    severity = property(lambda self: self.spec.severity)
    enabled = property(lambda self: self.spec.enabled)
    conversation_types = property(lambda self: tuple(self.spec.conversation_types))
    delivery = property(lambda self: self.spec.delivery)
    howto_topic = property(lambda self: self.spec.howto_topic)

    @property
    def nudge(self) -> Nudge:
        """The nudge templates (title, body, suggestion)."""
        return self.spec.nudge

    def applies_to(self, message: MessageInput) -> bool:
        """True when the rule is enabled and scoped to the message's conversation type."""
        return self.spec.enabled and message.conversation_type in self._types

    def log_failure(self, kind: DetectorKind, exc: BaseException) -> None:
        """Log a detector's failure without the message text: type and frames only."""
        logger.error(
            "detector failed rule=%s kind=%s error=%s\n%s",
            self.id,
            kind.name,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )

    def locate(self, hits: list[Hit], view: MatchView) -> list[Finding]:
        """Findings for a detector's hits: quoted or allow-listed ones dropped, spans mapped back."""
        findings: list[Finding] = []
        quotes = view.quotes if self._skip_quoted else None
        for hit in hits:
            if hit.view_span:
                if quotes and any(qs <= hit.start and hit.end <= qe for qs, qe in quotes):
                    continue  # inside a quoted passage
                if self._allow_phrases is not None and self._allow_phrases.search(
                    view.text, hit.start, hit.end
                ):
                    continue
                start, end = view.to_original(hit.start, hit.end)
            else:
                start, end = hit.start, hit.end
            # the quote is shown on the nudge card: phone/ID numbers and e-mail addresses are masked
            quote = (
                hit.label
                if hit.label is not None
                else masked_quote(view.original, start, min(end, start + _QUOTE_MAX))[:_QUOTE_MAX]
            )
            findings.append(Finding(self._id, self._severity, start, end, quote, hit.category))
        return findings

    def render_nudge(self, finding: Finding) -> dict[str, str]:
        """Fill the nudge templates with the finding's values."""
        values = _SafeDict(
            quote=finding.quote,
            title=self.title_ja,
            rule_id=self.id,
            category=finding.category or "",
            policy_section=self.policy_section,
            howto_topic=self.howto_topic or "",
        )
        return {
            "title": self.nudge.title.format_map(values),
            "body": self.nudge.body.format_map(values),
            "suggestion": self.nudge.suggestion.format_map(values),
        }


def example_message(example: Example, rule: Rule) -> MessageInput:
    """The MessageInput an example stands for (its type defaults to the rule's first type)."""
    return MessageInput(
        text=example.text,
        conversation_type=example.type or rule.spec.conversation_types[0],
        is_reply=example.reply,
        attachments=tuple((a.contentType, a.name) for a in example.attachments),
    )


class RuleSet:
    """The loaded rules; ``evaluate`` is pure and thread-safe."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = {rule.id: rule for rule in rules}
        self._ordered = tuple(self._rules.values())
        # per conversation type, the detectors to run, in rule order, with what they need
        self._plans: dict[str, tuple[_PlanStep, ...]] = {
            conversation_type: tuple(
                (rule, kind, options, *_first_and_rest(getattr(options, "gates", ())))
                for rule in self._ordered
                if conversation_type in rule._types
                for kind, options in rule._detectors
            )
            for conversation_type in CONVERSATION_TYPES
        }
        canonical = json.dumps(
            [r.spec.model_dump(mode="json") for r in sorted(self._rules.values(), key=lambda r: r.id)],
            ensure_ascii=False,
            sort_keys=True,
        )
        self.version = hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def rules(self) -> list[Rule]:
        """All rules, enabled or not, in load order."""
        return list(self._rules.values())

    def short_titles(self) -> dict[str, str]:
        """Every rule's short Japanese name by id (for the dashboard and the weekly digest)."""
        return {rule.id: rule.short_title_ja for rule in self._ordered}

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError when unknown)."""
        return self._rules[rule_id]

    def evaluate(self, message: MessageInput) -> list[Finding]:
        """Every finding of every applicable rule, ordered by position then rule id."""
        plan = self._plans.get(message.conversation_type)
        if not plan:
            return []
        view = build_view(message.text)
        text = view.text
        findings: list[Finding] = []
        finished: set[Rule] | None = None  # rules stopped early by an error or an exemption
        # one flat loop over (rule, detector) pairs: most detectors find nothing, so the common
        # path must cost little more than a regex scan. A detector's gates (regexes that must
        # all match for it to run: words its patterns need, and an admin's prefilter) run here
        # and nowhere else, which spares the call of most detectors.
        for rule, kind, options, gate, more_gates in plan:
            if gate is not None:
                if gate.search(text) is None:
                    continue
                if more_gates:
                    blocked = False
                    for other in more_gates:
                        if other.search(text) is None:
                            blocked = True
                            break
                    if blocked:
                        continue
            if finished is not None and rule in finished:
                continue
            try:
                hits = kind.detect(view, message, options, rule._allow_sets)
                if hits.__class__ is not list:
                    hits = list(hits)
            except Exception as exc:  # a broken detector must not take the others down
                rule.log_failure(kind, exc)
                finished = (finished or set()) | {rule}
                findings = [f for f in findings if f.rule_id != rule._id]
                continue
            if not hits:
                continue
            # the exemption is checked only once something was found: most messages never need
            # it; it cannot have matched for an earlier detector of the rule that found something
            unless = rule._unless
            if unless is not None and unless.search(text):
                finished = (finished or set()) | {rule}
                continue
            findings.extend(rule.locate(hits, view))
        if len(findings) > 1:
            findings.sort(key=_position_then_rule)
        return findings

    def fired_rule_ids(self, message: MessageInput) -> list[str]:
        """Ids of the rules that fire, each once, in rule order."""
        fired = {f.rule_id for f in self.evaluate(message)}
        return [rule_id for rule_id in self._rules if rule_id in fired]

    def check_examples(self) -> list[ExampleFailure]:
        """Run every rule's examples, each rule alone; return the ones that misbehave."""
        failures: list[ExampleFailure] = []
        for rule in self._rules.values():
            alone = RuleSet([rule])
            for should_fire, examples in (
                (True, rule.spec.examples.fire),
                (False, rule.spec.examples.no_fire),
            ):
                for example in examples:
                    fired = bool(alone.evaluate(example_message(example, rule)))
                    if fired != should_fire:
                        failures.append(ExampleFailure(rule.id, rule.source, should_fire, example.text))
        return failures


def example_issue(failure: ExampleFailure) -> RuleIssue:
    """An example failure as a bilingual issue."""
    ja, en = MESSAGES["example_should_fire" if failure.should_fire else "example_should_not_fire"]
    path = f"rules[{failure.rule_id}].examples.{'fire' if failure.should_fire else 'no_fire'}"
    return RuleIssue(failure.file, None, path, f"{ja}: {failure.text!r}", f"{en}: {failure.text!r}")


def load_rule_set(extra_dirs: Iterable[Path] = (), include_defaults: bool = True) -> RuleSet:
    """Load the packaged default rules plus rules from ``extra_dirs`` (same id overrides)."""
    specs = load_rule_specs(extra_dirs, include_defaults=include_defaults)
    return RuleSet(Rule(spec, source) for spec, source in specs)
