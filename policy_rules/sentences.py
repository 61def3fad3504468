"""Japanese sentence and line splitting over the matching view, and quoted passages.

Japanese marks sentence ends with 。！？ (and, in chat, with a line break or nothing at all);
a full stop inside a number or an address (3.5, info@example.jp) is not a sentence end.
Closing brackets and quotes right after the mark stay with the sentence.
"""

from __future__ import annotations

import re

from policy_rules.normalize import Sentence

_SENTENCE_END_RE = re.compile(r"[。!?！？]+[」』)\]】]*|\n+|(?<![0-9a-zA-Z])\.(?![0-9a-zA-Z])|…+|\.{3,}")
_QUOTE_OPEN_RE = re.compile('[「『“"]')
_QUOTE_RE = re.compile(r"「[^「」\n]{0,80}」|『[^『』\n]{0,80}』|“[^“”\n]{0,80}”|\"[^\"\n]{0,80}\"")


def split_sentences(text: str, limit: int = 0) -> list[Sentence]:
    """Split the view into sentences; empty pieces are dropped. ``limit`` > 0 stops early."""
    out: list[Sentence] = []
    pos = 0
    for m in _SENTENCE_END_RE.finditer(text):
        _append(out, text, pos, m.end())
        pos = m.end()
        if limit and len(out) >= limit:
            return out
    _append(out, text, pos, len(text))
    return out[:limit] if limit else out


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start] in " \n、,":
        start += 1
    stripped_end = end
    while stripped_end > start and text[stripped_end - 1] in " \n":
        stripped_end -= 1
    if stripped_end > start:
        out.append(Sentence(text[start:stripped_end], start, stripped_end))


def split_lines(text: str) -> list[Sentence]:
    """Non-empty lines of the view with their spans."""
    out: list[Sentence] = []
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            out.append(Sentence(stripped, pos + lead, pos + lead + len(stripped)))
        pos += len(line) + 1
    return out


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of quoted passages, brackets included."""
    if _QUOTE_OPEN_RE.search(text) is None:
        return []
    return [(m.start(), m.end()) for m in _QUOTE_RE.finditer(text)]
