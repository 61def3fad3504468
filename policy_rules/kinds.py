"""The built-in detector kinds. Each is one function plus its options model.

Patterns in options are regular expressions over the matching view (see policy_rules.normalize);
they are folded like the view, so 「オッケー」「ｵｯｹｰ」「おっけー」 are one pattern.
"""

from __future__ import annotations

import re
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy_rules.identifiers import IDENTIFIERS, AllowSets
from policy_rules.model import Hit, MessageInput
from policy_rules.normalize import MatchView, fold_pattern
from policy_rules.registry import detector_kind

# After a phrase, these words mean it is being discussed, not said:
# 「お疲れ様です」は省略 / 電話くださいと言われた / 了解という返事
DEFAULT_TOPIC_GUARD = (
    r"(?:と(?:言|い[わうっえ]|書|伝え|返|お願いされ|打)|って(?:言|い[わうっえ]|書|返)|という|とか|など"
    r"|は(?:省略|不要|やめ|禁止|避け|使わ|いら|なし|無し|nG|ng)|を(?:使|省略|やめ|避け|書)|だけの|のような|みたいな)"
)


# shared empty result: detectors return lists (cheaper than generators on the hot path)
NO_HITS: list[Hit] = []
_GUARD_RE = re.compile(fold_pattern(DEFAULT_TOPIC_GUARD))


class Prefilter:
    """A cheap test a message must pass before a detector's patterns run (speed only).

    A plain alternation of words (``電話|内線|tel``) becomes substring tests, which CPython runs
    much faster than a regex alternation; anything else stays a regex.
    """

    __slots__ = ("_regex", "_words")

    def __init__(self, pattern: str) -> None:
        folded = fold_pattern(pattern)
        words = folded.split("|")
        if all(w and not _REGEX_META.search(w) for w in words):
            # the view is already lower-cased (see policy_rules.normalize), like folded patterns
            self._words = tuple(words)
            self._regex = None
        else:
            self._words = ()
            self._regex = re.compile(folded, re.MULTILINE)

    def passes(self, view: MatchView) -> bool:
        """True when the detector may find something in this view."""
        if self._regex is not None:
            return self._regex.search(view.text) is not None
        return any(map(view.text.__contains__, self._words))


_REGEX_META = re.compile(r"[\\.^$*+?{}\[\]()]")


def _first_chars(items: list[Any]) -> tuple[set[str], bool] | None:
    """Characters a sequence of parsed regex items can start with, and whether it can match empty."""
    result: set[str] = set()
    for op, av in items:
        found = _first_chars_of(op, av)
        if found is None:
            return None
        chars, nullable = found
        result |= chars
        if not nullable:
            return result, False
    return result, True


def _first_chars_of(op: Any, av: Any) -> tuple[set[str], bool] | None:
    if op is _sre.LITERAL:
        return {chr(av)}, False
    if op is _sre.IN:
        chars: set[str] = set()
        for item_op, item_av in av:
            if item_op is _sre.LITERAL:
                chars.add(chr(item_av))
            elif item_op is _sre.RANGE and item_av[1] - item_av[0] <= 256:
                chars.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
            else:
                return None  # negated sets, categories such as \d, huge ranges
        return chars, False
    if op is _sre.SUBPATTERN:
        return _first_chars(list(av[3].data))
    if op is _sre.ATOMIC_GROUP:
        return _first_chars(list(av.data))
    if op is _sre.BRANCH:
        union: set[str] = set()
        any_nullable = False
        for branch in av[1]:
            found = _first_chars(list(branch.data))
            if found is None:
                return None
            union |= found[0]
            any_nullable = any_nullable or found[1]
        return union, any_nullable
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, _high, item = av
        found = _first_chars(list(item.data))
        if found is None:
            return None
        return found[0], found[1] or low == 0
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return set(), True  # zero-width: the next item consumes the first character
    return None


def first_char_hint(pattern: str) -> str:
    """Prefix a regex with a look-ahead on the characters a match can start with.

    Python's ``re`` tries every alternative at every position; a one-character class in front
    rejects most positions at once (about 2.5x faster on chat text). Meaning is unchanged: the
    look-ahead only states what the pattern already requires. Unknown cases get no hint.
    """
    try:
        parsed = _sre_parse.parse(pattern, re.MULTILINE)
    except re.error:
        return pattern
    found = _first_chars(list(parsed.data))
    if found is None or found[1] or not found[0] or len(found[0]) > 200:
        return pattern
    chars = "".join(sorted(found[0]))
    return f"(?=[{re.escape(chars)}])(?:{pattern})"


def compile_patterns(patterns: list[str]) -> re.Pattern[str] | None:
    """Fold and join patterns into one case-insensitive regex (None when empty)."""
    if not patterns:
        return None
    return re.compile(first_char_hint("|".join(f"(?:{fold_pattern(p)})" for p in patterns)), re.MULTILINE)


def _check_regexes(values: list[str]) -> list[str]:
    for index, value in enumerate(values):
        try:
            re.compile(fold_pattern(value))
        except re.error as exc:
            raise ValueError(
                f"正規表現が不正です (invalid regular expression) #{index}: {value!r}: {exc}"
            ) from exc
    return values


class KindOptions(BaseModel):
    """Common base: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def prepare(self) -> SimpleNamespace:
        """Plain, fast-to-read copy of the options with compiled matchers."""
        return SimpleNamespace(**dict(self))


# ---------------------------------------------------------------- phrase_set
class PhraseSetOptions(KindOptions):
    """Phrases (regexes) that fire wherever they appear in the chosen scope."""

    kind: Literal["phrase_set"]
    phrases: list[str] = Field(min_length=1)
    scope: Literal["message", "opening", "first_line"] = "message"
    opening_sentences: int = Field(default=2, ge=1, le=10)
    full_line: bool = False
    not_followed_by: list[str] = Field(default_factory=list)
    topic_guard: bool = True
    prefilter: str | None = None

    @field_validator("prefilter")
    @classmethod
    def _prefilter_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _check_regexes([value])[0]

    _validate_phrases = field_validator("phrases", "not_followed_by")(_check_regexes)

    def prepare(self) -> SimpleNamespace:
        """Compile once into plain attributes (pydantic private attributes are slow to read)."""
        body = "|".join(f"(?:{fold_pattern(p)})" for p in self.phrases)
        if self.full_line:
            body = rf"^\s*(?:{body})\s*[、,。.!:]?\s*$"
        return SimpleNamespace(
            **dict(self),
            phrases_re=re.compile(first_char_hint(body), re.MULTILINE),
            not_followed_re=compile_patterns(self.not_followed_by),
            guard_re=_GUARD_RE if self.topic_guard else None,
            prefilter_test=Prefilter(self.prefilter) if self.prefilter else None,
        )


def _followed_by(regex: re.Pattern[str] | None, text: str, pos: int) -> bool:
    return regex is not None and regex.match(text, pos) is not None


@detector_kind("phrase_set", PhraseSetOptions)
def detect_phrase_set(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire on each phrase found in the scope (message, opening sentences or first line)."""
    text = view.text
    if options.prefilter_test is not None and not options.prefilter_test.passes(view):
        return NO_HITS
    if options.scope == "opening":
        # anchored at the start of each opening sentence: "does the message open with …"
        found = (
            options.phrases_re.match(text, s.start, s.end)
            for s in view.opening_sentences(options.opening_sentences)
        )
        matches: Iterable[re.Match[str] | None] = found
    elif options.scope == "first_line":
        lines = view.lines
        if not lines:
            return NO_HITS
        matches = options.phrases_re.finditer(text, lines[0].start, lines[0].end)
    else:
        matches = options.phrases_re.finditer(text)
    hits: list[Hit] = []
    for m in matches:
        if m is None or m.end() == m.start():
            continue
        if _followed_by(options.not_followed_re, text, m.end()):
            continue
        if _followed_by(options.guard_re, text, m.end()):
            continue
        hits.append(Hit(m.start(), m.end()))
    return hits


# ---------------------------------------------------------------- whole_message
class WholeMessageOptions(KindOptions):
    """Fires when the whole message is nothing but these phrases (plus allowed fillers)."""

    kind: Literal["whole_message"]
    phrases: list[str] = Field(min_length=1)
    fillers: list[str] = Field(default_factory=list)
    separators: str = r"[\s、,。.!?！？…・〜~ー:;♪☆★＊*]+"
    _validate = field_validator("phrases", "fillers")(_check_regexes)

    @field_validator("separators")
    @classmethod
    def _separators_compile(cls, value: str) -> str:
        return _check_regexes([value])[0]

    def prepare(self) -> SimpleNamespace:
        """Compile the token grammar once: separator | filler | phrase."""
        phrases = "|".join(f"(?:{fold_pattern(p)})" for p in self.phrases)
        fillers = "|".join(f"(?:{fold_pattern(p)})" for p in self.fillers) or r"(?!)"
        token = re.compile(
            rf"(?P<sep>{fold_pattern(self.separators)})|(?P<filler>{fillers})|(?P<phrase>{phrases})"
        )
        return SimpleNamespace(**dict(self), token_re=token)


@detector_kind("whole_message", WholeMessageOptions)
def detect_whole_message(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire once, over the whole message, when every token is a phrase, a filler or a separator."""
    text = view.text
    if not text or len(text) > 200:
        return NO_HITS
    pos, found, first, last = 0, False, -1, -1
    token = options.token_re
    while pos < len(text):
        m = token.match(text, pos)
        if m is None or m.end() == pos:
            return NO_HITS
        if m.lastgroup == "phrase":
            found = True
            if first < 0:
                first = m.start()
            last = m.end()
        pos = m.end()
    if found:
        return [Hit(first, last)]
    return NO_HITS


# ---------------------------------------------------------------- pattern_context
class PatternContextOptions(KindOptions):
    """Patterns that fire only with a context word nearby (same sentence or whole message)."""

    kind: Literal["pattern_context"]
    patterns: list[str] = Field(min_length=1)
    context_any: list[str] = Field(default_factory=list)
    context_scope: Literal["sentence", "message"] = "sentence"
    topic_guard: bool = True
    prefilter: str | None = None

    @field_validator("prefilter")
    @classmethod
    def _prefilter_compiles(cls, value: str | None) -> str | None:
        return None if value is None else _check_regexes([value])[0]

    _validate = field_validator("patterns", "context_any")(_check_regexes)

    def prepare(self) -> SimpleNamespace:
        """Compile once."""
        return SimpleNamespace(
            **dict(self),
            patterns_re=compile_patterns(self.patterns),
            context_re=compile_patterns(self.context_any),
            guard_re=_GUARD_RE if self.topic_guard else None,
            prefilter_test=Prefilter(self.prefilter) if self.prefilter else None,
        )


@detector_kind("pattern_context", PatternContextOptions)
def detect_pattern_context(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire on a pattern when a context word is in its sentence (or anywhere, by option)."""
    text = view.text
    if options.prefilter_test is not None and not options.prefilter_test.passes(view):
        return NO_HITS
    hits: list[Hit] = []
    for m in options.patterns_re.finditer(text):
        if m.end() == m.start():
            continue
        if _followed_by(options.guard_re, text, m.end()):
            continue
        if options.context_re is not None:
            if options.context_scope == "message":
                if not options.context_re.search(text):
                    continue
            else:
                sentence = next((s for s in view.sentences if s.start <= m.start() < s.end), None)
                lo, hi = (sentence.start, sentence.end) if sentence else (m.start(), m.end())
                if not options.context_re.search(text, lo, hi):
                    continue
        hits.append(Hit(m.start(), m.end()))
    return hits


# ---------------------------------------------------------------- step_by_step
class StepByStepOptions(KindOptions):
    """An explanation written as steps (①②, 1. 2., →) that also gives instructions."""

    kind: Literal["step_by_step"]
    step_markers: list[str] = Field(
        default_factory=lambda: [r"[①-⑳]", r"^\s*\d{1,2}[.)、]", r"→", r"^\s*\(\d\)"]
    )
    min_steps: int = Field(default=2, ge=1)
    instructions: list[str] = Field(min_length=1)
    min_steps_with_two_instructions: int = Field(default=1, ge=0)
    not_if_any: list[str] = Field(default_factory=list)
    _validate = field_validator("step_markers", "instructions", "not_if_any")(_check_regexes)

    def prepare(self) -> SimpleNamespace:
        """Compile once."""
        return SimpleNamespace(
            **dict(self),
            markers_re=compile_patterns(self.step_markers),
            instructions_re=compile_patterns(self.instructions),
            not_if_re=compile_patterns(self.not_if_any),
        )


@detector_kind("step_by_step", StepByStepOptions)
def detect_step_by_step(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire once over the message when it reads as a how-to explanation."""
    text = view.text
    steps = len(options.markers_re.findall(text))
    if steps == 0:
        return NO_HITS
    instructions = options.instructions_re.findall(text)
    if not instructions:
        return NO_HITS
    enough = steps >= options.min_steps or (
        len(instructions) >= 2 and steps >= options.min_steps_with_two_instructions
    )
    if not enough:
        return NO_HITS
    if options.not_if_re is not None and options.not_if_re.search(text):
        return NO_HITS
    return [Hit(0, len(text))]


# ---------------------------------------------------------------- signature_block
class SignatureBlockOptions(KindOptions):
    """A closing block of affiliation and name set off by separator lines or carrying a contact line."""

    kind: Literal["signature_block"]
    separator_line: str = r"[-=_━─―‐~*＊・]{4,}"
    affiliation: list[str] = Field(min_length=1)
    contact: list[str] = Field(min_length=1)
    max_block_lines: int = Field(default=6, ge=1)
    max_line_length: int = Field(default=40, ge=5)
    _validate = field_validator("affiliation", "contact")(_check_regexes)

    @field_validator("separator_line")
    @classmethod
    def _separator_compiles(cls, value: str) -> str:
        return _check_regexes([value])[0]

    def prepare(self) -> SimpleNamespace:
        """Compile once."""
        return SimpleNamespace(
            **dict(self),
            separator_re=re.compile(rf"^\s*(?:{fold_pattern(self.separator_line)})\s*$"),
            affiliation_re=compile_patterns(self.affiliation),
            contact_re=compile_patterns(self.contact),
        )


@detector_kind("signature_block", SignatureBlockOptions)
def detect_signature_block(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire on the trailing block when it holds an affiliation line and separators or a contact line."""
    if "\n" not in view.text:
        return NO_HITS
    lines = view.lines
    if len(lines) < 2:
        return NO_HITS
    is_separator = options.separator_re.match
    end = len(lines)
    while end > 0 and is_separator(lines[end - 1].text):
        end -= 1
    opening = next(
        (
            k
            for k in range(end - 1, max(-1, end - 1 - options.max_block_lines), -1)
            if is_separator(lines[k].text)
        ),
        None,
    )
    if opening is not None:
        block = lines[opening + 1 : end]
        needs_contact = False
    else:
        # without a separator only the last lines can sign, and never the whole message
        start = end
        while start > 1 and end - start < 3 and len(lines[start - 1].text) <= options.max_line_length:
            start -= 1
        block = lines[start:end]
        needs_contact = True
    if not block or any(len(line.text) > options.max_line_length for line in block):
        return NO_HITS
    if not any(options.affiliation_re.search(line.text) for line in block):
        return NO_HITS
    if needs_contact and not any(options.contact_re.search(line.text) for line in block):
        return NO_HITS
    return [Hit(block[0].start, block[-1].end)]


# ---------------------------------------------------------------- personal_data
# every identifier holds an Arabic digit, an @, or a kanji-numeral address marker
_MAY_HOLD_PERSONAL_DATA_RE = re.compile(r"[0-9@]|丁目|番")
IdentifierName = Literal[
    "my_number", "phone_number", "birth_date", "address", "bank_account", "email_address"
]


class PersonalDataOptions(KindOptions):
    """Validated identifiers of personal data; the rule's allow-lists apply."""

    kind: Literal["personal_data"]
    identifiers: list[IdentifierName] = Field(min_length=1)


@detector_kind("personal_data", PersonalDataOptions)
def detect_personal_data(view: MatchView, message: MessageInput, options: Any, allow: AllowSets) -> list[Hit]:
    """Fire on each identifier found; the quote is the category label, never the datum."""
    if not _MAY_HOLD_PERSONAL_DATA_RE.search(view.text):
        return NO_HITS
    hits: list[Hit] = []
    for name in options.identifiers:
        label, finder = IDENTIFIERS[name]
        for start, end in finder(view.text, allow):
            hits.append(Hit(start, end, label=label, category=name))
    return hits


# ---------------------------------------------------------------- attachment_type
class AttachmentTypeOptions(KindOptions):
    """Attachments by content type prefix or file-name extension (case-insensitive)."""

    kind: Literal["attachment_type"]
    content_type_prefixes: list[str] = Field(default_factory=list)
    extensions: list[str] = Field(default_factory=list)
    label: str = "添付ファイル"

    @field_validator("extensions")
    @classmethod
    def _dotted(cls, values: list[str]) -> list[str]:
        return [v.lower() if v.startswith(".") else "." + v.lower() for v in values]


@detector_kind("attachment_type", AttachmentTypeOptions)
def detect_attachment_type(view: MatchView, message: MessageInput, options: Any, allow: Any) -> list[Hit]:
    """Fire once per matching attachment; the span is empty (attachments have no text offsets)."""
    if not message.attachments:
        return NO_HITS
    prefixes = tuple(p.lower() for p in options.content_type_prefixes)
    extensions = tuple(options.extensions)
    hits: list[Hit] = []
    for content_type, name in message.attachments:
        if ((content_type or "").lower().startswith(prefixes) if prefixes else False) or (
            extensions and (name or "").lower().strip().endswith(extensions)
        ):
            hits.append(Hit(0, 0, label=options.label, category="attachment", view_span=False))
    return hits
