"""Matching view of a message: folded text plus a map back to the original offsets.

The view is what every detector reads. It is built once per message:

* HTML tags and ``<at>…</at>`` mentions removed, character entities decoded;
* emoji, kaomoji and laughter marks (ｗｗ, (笑)) set aside;
* NFKC (full-width ASCII and half-width katakana become standard forms);
* katakana folded to hiragana, so a rule written 「オッケー」 also matches 「おっけー」;
* long-vowel marks and wave dashes after kana dropped (はーい → はい, りょうかい〜 → りょうかい);
* horizontal spaces dropped, except between two Latin letters (Japanese needs none, and
  numbers written ``090 0000 1234`` become one digit run);
* hyphen-like marks between digits unified to ``-``;
* line breaks kept (collapsed) because salutations and signatures are line-shaped.

Rule patterns go through :func:`fold_pattern` so that admins write natural Japanese in YAML.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_MENTION_RE = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]{1,200}>")
_BR_RE = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
# Kaomoji: a bracket pair holding mostly symbols, e.g. (｀・ω・´)ゞ (^^) (´;ω;`)
_KAOMOJI_RE = re.compile(
    r"[(（][^()（）\sぁ-んァ-ヶ一-龥a-zA-Z0-9０-９]{1,15}[)）][ゞノﾉ//]?"
    r"|[(（]\s?[\^＾][_\-oO。.ｰー]?[\^＾]\s?[)）]"
)
# Laughter: runs of w/ｗ after Japanese or punctuation, (笑), trailing 笑
_LAUGH_RE = re.compile(
    r"(?<=[ぁ-んァ-ヶ一-龥ー〜～!！?？。、…])[wWｗＷ]+(?![a-zA-Z])"
    r"|[(（]笑[)）]|(?<=[ぁ-んァ-ヶ!！])笑(?=$|[\s!！。、])"
)

_LONG_VOWEL_AFTER_KANA_RE = re.compile(r"(?<=[ぁ-ゖ])[ー〜~]+")
# hyphen-like marks that may separate the digits of a number in the view, as the inside of a
# regex character class (full-width － is already ASCII - after NFKC)
DIGIT_DASHES = r"\-‐‑‒–—―−ーｰ"
_DIGIT_DASH_RE = re.compile(rf"(?<=\d)[{DIGIT_DASHES}]+(?=\d)")
_SPACE_CHARS = frozenset(" \t\u3000\u00a0\u2002\u2003\u2009\u200b\r\f\v")
_LINE_BREAKS = frozenset("\n\u2028\u2029")
_ZERO_WIDTH = frozenset("\u200c\u200d\ufe0e\ufe0f\u20e3")


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    if 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x1F900 <= cp <= 0x1F9FF:
        return True
    if 0x2190 <= cp <= 0x21FF:  # arrows stay: they carry meaning in step-by-step text
        return False
    if 0xE0000 <= cp <= 0xE007F:
        return True
    return unicodedata.category(ch) == "So" and cp >= 0x2B00


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """Fold one character: NFKC, katakana to hiragana; emoji and zero-width marks become ''."""
    if ch in _ZERO_WIDTH or _is_emoji(ch):
        return ""
    if ch in _SPACE_CHARS:
        return " "
    if ch in _LINE_BREAKS:
        return "\n"
    out = unicodedata.normalize("NFKC", ch)
    folded = []
    for c in out:
        cp = ord(c)
        if 0x41 <= cp <= 0x5A:  # ASCII upper case → lower: patterns then need no IGNORECASE,
            folded.append(chr(cp + 32))  # which makes Python's re much slower on Japanese text
        elif 0x30A1 <= cp <= 0x30F6:  # katakana ァ..ヶ → hiragana
            folded.append(chr(cp - 0x60))
        elif c in "～〜":
            folded.append("〜")
        elif c == "･":
            folded.append("・")
        else:
            folded.append(c)
    return "".join(folded)


@dataclass(frozen=True)
class Sentence:
    """A sentence of the view: its text and its [start, end) in view offsets."""

    text: str
    start: int
    end: int


class MatchView:
    """The folded text of a message with the original offset of every view character."""

    __slots__ = (
        "_folded_len",
        "_identity",
        "_lines",
        "_offsets",
        "_quotes",
        "_records",
        "_sentences",
        "_stages",
        "original",
        "text",
    )

    def __init__(
        self,
        original: str,
        text: str,
        offsets: list[int] | None = None,
        stages: list[_PendingStage] | None = None,
        folded_len: int = 0,
    ) -> None:
        self.original = original
        self.text = text
        self._offsets = offsets
        # fast path: the rewrite stages applied after the fold, replayed backwards to map an
        # index without building the whole offset map
        self._stages = stages
        self._records: list[_Stage] | None = None  # the stages' replacements, found on first use
        self._folded_len = folded_len
        self._identity: bool | None = None
        self._sentences: list[Sentence] | None = None
        self._quotes: list[tuple[int, int]] | None = None
        self._lines: list[Sentence] | None = None

    def __repr__(self) -> str:
        return f"MatchView(text={self.text!r})"

    @property
    def offsets(self) -> list[int]:
        """Original offset of every view character (built on first use)."""
        if self._offsets is None:
            self._offsets = _fast_path_offsets(self.original)
        assert self._offsets is not None
        return self._offsets

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the view back to the original text."""
        if self._stages is not None and self._offsets is None and self.text:
            if self._identity is None:  # did every character fold to exactly one character?
                # build_view folded every character of the original, so each odd one is known
                self._identity = len(self.original) == self._folded_len and (
                    not _ODD_CHARS or _odd_chars_re().search(self.original) is None
                )
            records = self._records
            if records is None:
                records = self._records = [_stage_records(*stage) for stage in self._stages]
            size = len(self.text)
            if self._identity:
                if end <= start:
                    pos = _replay_backwards(records, min(start, size - 1))
                    return pos, pos
                first = _replay_backwards(records, start)
                return first, _replay_backwards(records, min(end, size) - 1) + 1
            # some characters folded to none or several: walk past them (a handful at most)
            if end <= start:
                pos = self._unfold(_replay_backwards(records, min(start, size - 1)))
                return pos, pos
            first = self._unfold(_replay_backwards(records, start))
            return first, self._unfold(_replay_backwards(records, min(end, size) - 1)) + 1
        offsets = self.offsets
        if not offsets:
            return 0, 0
        if end <= start:
            pos = offsets[min(start, len(offsets) - 1)]
            return pos, pos
        first = offsets[start]
        last = offsets[min(end, len(offsets)) - 1]
        # the original character at `last` may be several view characters (e.g. ㈱)
        return first, last + 1

    def _unfold(self, index: int) -> int:
        """Original offset of an index of the folded text (before the rewrite stages)."""
        original_pos = folded_pos = 0
        for m in _odd_chars_re().finditer(self.original):
            odd_pos = m.start()
            plain = odd_pos - original_pos  # characters folded one to one before the odd one
            if index < folded_pos + plain:
                return original_pos + index - folded_pos
            folded_pos += plain
            size = len(_FOLD_TABLE[ord(m.group())])
            if index < folded_pos + size:
                return odd_pos
            folded_pos += size
            original_pos = odd_pos + 1
        return original_pos + index - folded_pos

    @property
    def sentences(self) -> list[Sentence]:
        """Sentences split at 。！？ and line breaks (see policy_rules.sentences)."""
        if self._sentences is None:
            from policy_rules.sentences import split_sentences

            self._sentences = split_sentences(self.text)
        return self._sentences

    def opening_sentences(self, count: int) -> list[Sentence]:
        """The first ``count`` sentences, without splitting the rest of a long message."""
        if self._sentences is not None:
            return self._sentences[:count]
        from policy_rules.sentences import split_sentences

        return split_sentences(self.text, count)

    @property
    def lines(self) -> list[Sentence]:
        """Non-empty lines of the view, stripped."""
        if self._lines is None:
            from policy_rules.sentences import split_lines

            self._lines = split_lines(self.text)
        return self._lines

    @property
    def quotes(self) -> list[tuple[int, int]]:
        """Spans of quoted passages 「…」『…』“…” in view offsets."""
        if self._quotes is None:
            from policy_rules.sentences import quote_spans

            self._quotes = quote_spans(self.text)
        return self._quotes


def _masked_spans(text: str) -> list[tuple[int, int, str]]:
    """Spans of the original to set aside, with what replaces them ('' or a line break)."""
    spans: list[tuple[int, int, str]] = []
    if "<" in text:
        for m in _MENTION_RE.finditer(text):
            spans.append((m.start(), m.end(), " "))
        for m in _BR_RE.finditer(text):
            spans.append((m.start(), m.end(), "\n"))
        for m in _TAG_RE.finditer(text):
            spans.append((m.start(), m.end(), ""))
    if "(" in text or "（" in text:
        for m in _KAOMOJI_RE.finditer(text):
            spans.append((m.start(), m.end(), ""))
    if _LAUGH_GATE_RE.search(text):  # the look-behinds make a full scan slow: most texts skip it
        for m in _LAUGH_RE.finditer(text):
            spans.append((m.start(), m.end(), ""))
    if not spans:
        return spans
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for s, e, r in spans:
        if merged and s < merged[-1][1]:
            ps, pe, pr = merged[-1]
            merged[-1] = (ps, max(pe, e), pr)
        else:
            merged.append((s, e, r))
    return merged


# Rewrites applied after the per-character fold, in order, identically on both paths.
_DASH_GATE_RE = re.compile(rf"\d[{DIGIT_DASHES}]")
_REWRITES: tuple[tuple[re.Pattern[str], str, re.Pattern[str]], ...] = (
    # (pattern, replacement, cheap gate: the pattern can only match when the gate matches;
    # a regex search is cheaper to call than a Python function)
    (re.compile(r" {2,}"), " ", re.compile("  ")),
    # keep a space only between two Latin letters (Japanese needs none; digits join up)
    (re.compile(r"(?<![A-Za-z]) | (?![A-Za-z])"), "", re.compile(" ")),
    (re.compile(r"\n{2,}"), "\n", re.compile("\n\n")),
    (re.compile(r"^\n|\n$"), "", re.compile(r"\A\n|\n\Z")),
    (_LONG_VOWEL_AFTER_KANA_RE, "", re.compile("[ー〜~]")),
    (_DIGIT_DASH_RE, "-", _DASH_GATE_RE),
)
_NEEDS_SLOW_PATH_RE = re.compile(r"[<&\u3099\u309a\uff9e\uff9f]")
_ANY_SPECIAL_RE = re.compile(r"[<&\u3099\u309a\uff9e\uff9fwWｗＷ笑(（]")
# after the fold, no rewrite can apply to a text without any of these
_ANY_REWRITE_RE = re.compile(rf"[ \n〜~{DIGIT_DASHES}]")
_LAUGH_GATE_RE = re.compile(r"[wWｗＷ笑]")
_KAOMOJI_GATE_RE = re.compile(r"[(（]")


# Characters whose fold is not exactly one character (emoji → '', ㈱ → (株)), as met so far.
_ODD_CHARS: set[str] = set()
_ODD_CHARS_RE: tuple[int, re.Pattern[str]] = (0, re.compile("(?!)"))


def _odd_chars_re() -> re.Pattern[str]:
    """A character class of every odd character met so far (rebuilt when one more is met)."""
    global _ODD_CHARS_RE
    count, regex = _ODD_CHARS_RE
    if count != len(_ODD_CHARS):
        chars = sorted(tuple(_ODD_CHARS))  # tuple(): a C-level copy, safe against other threads
        regex = re.compile("[" + "".join(re.escape(c) for c in chars) + "]")
        _ODD_CHARS_RE = (len(chars), regex)
    return regex


class _FoldTable(dict[int, str]):
    """str.translate table filled on first sight of each character."""

    def __missing__(self, codepoint: int) -> str:
        ch = chr(codepoint)
        folded = fold_char(ch)
        if len(folded) != 1:  # recorded before the table entry, so a reader of the entry sees it
            _ODD_CHARS.add(ch)
        self[codepoint] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def build_view(text: str) -> MatchView:
    """Build the matching view of ``text`` (see the module docstring).

    Most messages take the fast path (str.translate and a few substitutions); the offset map
    is then built only when a finding needs it.
    """
    if _ANY_SPECIAL_RE.search(text) and (
        _NEEDS_SLOW_PATH_RE.search(text)
        or (_LAUGH_GATE_RE.search(text) and _LAUGH_RE.search(text))
        or (_KAOMOJI_GATE_RE.search(text) and _KAOMOJI_RE.search(text))
    ):
        return build_view_with_offsets(text)
    folded = text.translate(_FOLD_TABLE)
    folded_len = len(folded)
    stages: list[_PendingStage] = []
    if _ANY_REWRITE_RE.search(folded):
        for pattern, repl, gate in _REWRITES:
            if gate.search(folded) is not None:
                rewritten = pattern.sub(repl, folded)
                if rewritten != folded:
                    # where the replacements happened is worked out only if a finding needs it
                    stages.append((folded, pattern, repl))
                    folded = rewritten
    return MatchView(text, folded, None, stages, folded_len)


# A rewrite stage as applied: its input text, pattern and replacement.
_PendingStage = tuple[str, re.Pattern[str], str]
# One rewrite stage: for each replacement, (output start, replacement length, input start,
# input end); plus the output starts alone for bisect.
_Stage = tuple[list[int], list[tuple[int, int, int, int]]]


def _stage_records(text: str, pattern: re.Pattern[str], repl: str) -> _Stage:
    """Where pattern.sub(repl, text) replaced something, for mapping offsets back."""
    starts: list[int] = []
    records: list[tuple[int, int, int, int]] = []
    shift = 0  # output offset minus input offset so far
    size = len(repl)
    for m in pattern.finditer(text):
        s, e = m.span()
        out_start = s + shift
        starts.append(out_start)
        records.append((out_start, size, s, e))
        shift += size - (e - s)
    return starts, records


def _replay_backwards(stages: list[_Stage], index: int) -> int:
    """Map a view index back through the rewrite stages to an index of the folded text."""
    for starts, records in reversed(stages):
        k = bisect.bisect_right(starts, index) - 1
        if k < 0:
            continue
        out_start, repl_len, in_start, in_end = records[k]
        index = in_start if index < out_start + repl_len else index - out_start - repl_len + in_end
    return index


_COMBINING_PAIR_RE = re.compile(r".[\u3099\u309a\uff9e\uff9f]", re.DOTALL)


def _append_plain(text: str, start: int, end: int, pieces: list[str], offs: list[int]) -> None:
    """Fold text[start:end] (no masks inside) and record the offset of every folded character."""
    if start >= end:
        return
    segment = text[start:end]
    pieces.append(segment.translate(_FOLD_TABLE))  # records every odd character of the segment
    odd = _odd_chars_re().search(segment) if _ODD_CHARS else None
    if odd is None:  # every character folds to exactly one: the offsets are a range
        offs.extend(range(start, end))
        return
    previous = 0
    for m in _odd_chars_re().finditer(segment, odd.start()):
        p = m.start()
        offs.extend(range(start + previous, start + p))
        offs.extend([start + p] * len(_FOLD_TABLE[ord(segment[p])]))
        previous = p + 1
    offs.extend(range(start + previous, end))


def _fast_path_offsets(text: str) -> list[int]:
    """Offsets for a text that took the fast path (no masks, entities or combining marks)."""
    pieces: list[str] = []
    offs: list[int] = []
    _append_plain(text, 0, len(text), pieces, offs)
    folded = "".join(pieces)
    for pattern, repl, gate in _REWRITES:
        if gate.search(folded) is not None:
            folded, offs = _rewrite(folded, offs, pattern, repl)
    return offs


def _special_spans(text: str) -> list[tuple[int, int, str]]:
    """Masked spans, character entities and voiced-mark pairs, with their folded replacement."""
    spans = _masked_spans(text)
    if "&" in text:
        for m in _ENTITY_RE.finditer(text):
            decoded = html.unescape(m.group())
            spans.append((m.start(), m.end(), "".join(fold_char(c) for c in decoded)))
    if _NEEDS_SLOW_PATH_RE.search(text):
        for m in _COMBINING_PAIR_RE.finditer(text):
            pair = unicodedata.normalize("NFKC", m.group())
            if len(pair) == 1:
                spans.append((m.start(), m.end(), fold_char(pair)))
    spans.sort()
    return spans


def build_view_with_offsets(text: str) -> MatchView:
    """Build the matching view segment by segment, keeping the original offsets."""
    pieces: list[str] = []
    offs: list[int] = []
    pos = 0
    for start, end, replacement in _special_spans(text):
        if start < pos:
            continue  # overlaps a span already handled
        _append_plain(text, pos, start, pieces, offs)
        pieces.append(replacement)
        offs.extend([start] * len(replacement))
        pos = end
    _append_plain(text, pos, len(text), pieces, offs)
    folded = "".join(pieces)
    for pattern, repl, gate in _REWRITES:
        if gate.search(folded) is not None:
            folded, offs = _rewrite(folded, offs, pattern, repl)
    return MatchView(text, folded, offs)  # offsets known: no stages needed


def _rewrite(text: str, offs: list[int], pattern: re.Pattern[str], repl: str) -> tuple[str, list[int]]:
    """Replace every match of ``pattern`` by ``repl`` (0 or 1 char), keeping the offset map."""
    if not pattern.search(text):
        return text, offs
    out_parts: list[str] = []
    out_offs: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        out_parts.append(text[pos : m.start()])
        out_offs.extend(offs[pos : m.start()])
        if repl:
            out_parts.append(repl)
            out_offs.append(offs[m.start()])
        pos = m.end()
    out_parts.append(text[pos:])
    out_offs.extend(offs[pos:])
    return "".join(out_parts), out_offs


def fold_pattern(pattern: str) -> str:
    """Fold the literal characters of a regular expression the same way as the view.

    Regex syntax is ASCII and NFKC leaves ASCII alone, so folding the whole pattern is safe;
    ASCII letters are lower-cased like the view, except right after a backslash (\\d, \\S).
    """
    out = []
    escaped = False
    for c in pattern:
        if escaped:  # \D \S \W \B \A \Z keep their meaning
            out.append(c)
            escaped = False
        elif c == "\\":
            out.append(c)
            escaped = True
        elif c.isascii():
            out.append(c.lower())
        else:
            out.append(fold_char(c))
    folded = "".join(out)
    return _LONG_VOWEL_AFTER_KANA_RE.sub("", folded)
