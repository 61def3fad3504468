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

import html
import re
import unicodedata
from dataclasses import dataclass, field
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
_DIGIT_DASH_RE = re.compile(r"(?<=\d)[\-‐‑‒–—―−ー〜~ｰ]+(?=\d)")
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
        if 0x30A1 <= cp <= 0x30F6:  # katakana ァ..ヶ → hiragana
            folded.append(chr(cp - 0x60))
        elif c in "～〜":
            folded.append("〜")
        elif c == "･":
            folded.append("・")
        else:
            folded.append(c)
    return "".join(folded)


_COMBINING_VOICED = frozenset("\u3099\u309a\uff9e\uff9f")


@dataclass(frozen=True)
class Sentence:
    """A sentence of the view: its text and its [start, end) in view offsets."""

    text: str
    start: int
    end: int


@dataclass
class MatchView:
    """The folded text of a message with the original offset of every view character."""

    original: str
    text: str
    _offsets: list[int] | None = field(default=None, repr=False)
    _sentences: list[Sentence] | None = field(default=None, repr=False)
    _quotes: list[tuple[int, int]] | None = field(default=None, repr=False)
    _lines: list[Sentence] | None = field(default=None, repr=False)

    @property
    def offsets(self) -> list[int]:
        """Original offset of every view character (built on first use)."""
        if self._offsets is None:
            self._offsets = _fast_path_offsets(self.original)
        assert self._offsets is not None
        return self._offsets

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the view back to the original text."""
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

    @property
    def sentences(self) -> list[Sentence]:
        """Sentences split at 。！？ and line breaks (see policy_rules.sentences)."""
        if self._sentences is None:
            from policy_rules.sentences import split_sentences

            self._sentences = split_sentences(self.text)
        return self._sentences

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

    def in_quote(self, start: int, end: int) -> bool:
        """True when [start, end) lies inside a quoted passage."""
        return any(qs <= start and end <= qe for qs, qe in self.quotes)


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
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r" {2,}"), " "),
    # keep a space only between two Latin letters (Japanese needs none; digits join up)
    (re.compile(r"(?<![A-Za-z]) | (?![A-Za-z])"), ""),
    (re.compile(r"\n{2,}"), "\n"),
    (re.compile(r"^\n|\n$"), ""),
    (_LONG_VOWEL_AFTER_KANA_RE, ""),
    (_DIGIT_DASH_RE, "-"),
)
_NEEDS_SLOW_PATH_RE = re.compile(r"[<&\u3099\u309a\uff9e\uff9f]")


class _FoldTable(dict[int, str]):
    """str.translate table filled on first sight of each character."""

    def __missing__(self, codepoint: int) -> str:
        folded = fold_char(chr(codepoint))
        self[codepoint] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def build_view(text: str) -> MatchView:
    """Build the matching view of ``text`` (see the module docstring).

    Most messages take the fast path (str.translate and a few substitutions); the offset map
    is then built only when a finding needs it.
    """
    if _NEEDS_SLOW_PATH_RE.search(text) or _LAUGH_RE.search(text) or _KAOMOJI_RE.search(text):
        return build_view_with_offsets(text)
    folded = text.translate(_FOLD_TABLE)
    for pattern, repl in _REWRITES:
        folded = pattern.sub(repl, folded)
    return MatchView(original=text, text=folded, _offsets=None)


def _fast_path_offsets(text: str) -> list[int]:
    """Offsets for a text that took the fast path (no masks, entities or combining marks)."""
    table = _FOLD_TABLE
    folded = text.translate(table)
    offs = [i for i, c in enumerate(text) for _ in range(len(table[ord(c)]))]
    for pattern, repl in _REWRITES:
        folded, offs = _rewrite(folded, offs, pattern, repl)
    return offs


def build_view_with_offsets(text: str) -> MatchView:
    """Build the matching view character by character, keeping the original offsets."""
    chars: list[str] = []
    offs: list[int] = []
    masks = _masked_spans(text)
    mask_i = 0
    i = 0
    n = len(text)
    while i < n:
        if mask_i < len(masks) and i >= masks[mask_i][0]:
            s, e, repl = masks[mask_i]
            mask_i += 1
            if i < e:
                if repl:
                    chars.append(repl)
                    offs.append(s)
                i = e
                continue
        ch = text[i]
        if ch == "&" and (m := _ENTITY_RE.match(text, i)):
            decoded = html.unescape(m.group())
            for c in decoded:
                for f in fold_char(c):
                    chars.append(f)
                    offs.append(i)
            i = m.end()
            continue
        if i + 1 < n and text[i + 1] in _COMBINING_VOICED:
            pair = unicodedata.normalize("NFKC", text[i : i + 2])
            if len(pair) == 1:
                for f in fold_char(pair):
                    chars.append(f)
                    offs.append(i)
                i += 2
                continue
        for f in fold_char(ch):
            chars.append(f)
            offs.append(i)
        i += 1
    folded = "".join(chars)
    for pattern, repl in _REWRITES:
        folded, offs = _rewrite(folded, offs, pattern, repl)
    return MatchView(original=text, text=folded, _offsets=offs)


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

    Regex syntax is ASCII and NFKC leaves ASCII alone, so folding the whole pattern is safe
    apart from the long-vowel rule, which only applies to literal text after kana.
    """
    out = []
    for c in pattern:
        out.append(fold_char(c) if not c.isascii() else c)
    folded = "".join(out)
    return _LONG_VOWEL_AFTER_KANA_RE.sub("", folded)


def nfkc_baseline(text: str) -> str:
    """NFKC alone: the baseline the benchmark compares the full normaliser against."""
    return unicodedata.normalize("NFKC", text)
