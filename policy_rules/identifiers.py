"""Validated identifiers of personal data, found in the matching view.

Each finder returns (start, end) spans of the view. Digits in the view are ASCII and every
hyphen-like mark between digits is already ``-`` (see policy_rules.normalize).
``masked_quote`` works on the original text instead: it hides such data in a finding's quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from policy_rules.normalize import DIGIT_DASHES

Span = tuple[int, int]

# ---------------------------------------------------------------- マイナンバー (個人番号)
_TWELVE_DIGITS_RE = re.compile(r"(\d{4})-?(\d{4})-?(\d{4})(?!\d|-\d)")
_DIGIT_OR_DASH = frozenset("0123456789-")


def _starts_number(text: str, start: int) -> bool:
    """True when ``start`` begins a number (no digit or digit-dash right before it).

    Checked in Python rather than with a leading look-behind, which would stop the regex
    engine from skipping ahead to the first digit.
    """
    return start == 0 or text[start - 1] not in _DIGIT_OR_DASH


def my_number_check_digit_ok(digits: str) -> bool:
    """True when the 12-digit string carries a valid マイナンバー check digit."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(c) for c in digits[:11]]
    total = 0
    for n in range(1, 12):  # n counts from the right of the first 11 digits
        p = body[11 - n]
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


def find_my_numbers(text: str) -> list[Span]:
    """Spans of 12-digit numbers (separators allowed) with a valid check digit."""
    found: list[Span] = []
    if _TWELVE_DIGITS_RE.search(text) is None:  # the usual case, without making an iterator
        return found
    for m in _TWELVE_DIGITS_RE.finditer(text):
        if _starts_number(text, m.start()) and my_number_check_digit_ok("".join(m.groups())):
            found.append(m.span())
    return found


# ---------------------------------------------------------------- 電話番号
_PHONE_RE = re.compile(
    r"(?:"
    r"0[5789]0-?\d{4}-?\d{4}"  # mobile and IP phones: 11 digits
    r"|\(0\d{1,4}\)-?\d{1,4}-\d{4}"
    r"|0\d{1,4}-\d{1,4}-\d{4}"  # landline with area code, separated
    r"|0\d{9}"  # landline written without separators
    r")(?![\d]|-\d)"
)
# phone numbers are looked for only in a text holding a run of 10+ digits (separators allowed)
_LONG_DIGIT_RUN_RE = re.compile(r"[\d(][\d()-]{8,}\d")
_NON_PERSONAL_PREFIXES = ("0120", "0800", "0570", "0990")
_EXTENSION_BEFORE_RE = re.compile(r"(?:内線|ないせん|ext\.?)[:：]?$")


def digits_only(value: str) -> str:
    """Digits of a string, in order."""
    return "".join(c for c in value if c.isdigit())


def find_phone_numbers(text: str, allowed: frozenset[str]) -> list[Span]:
    """Spans of phone numbers that are not allow-listed, free-dial or extensions."""
    found: list[Span] = []
    if not _LONG_DIGIT_RUN_RE.search(text):
        return found
    for m in _PHONE_RE.finditer(text):
        if not _starts_number(text, m.start()):
            continue
        digits = digits_only(m.group())
        # free-dial and navi-dial numbers belong to businesses; 0800-000-0000 is free-dial
        # but 080-0000-0000 is a mobile, so 0800 needs its own digit group
        if digits.startswith(_NON_PERSONAL_PREFIXES) and (
            not digits.startswith("0800") or m.group()[4:5] == "-"
        ):
            continue
        if digits in allowed:
            continue
        if _EXTENSION_BEFORE_RE.search(text, max(0, m.start() - 4), m.start()):
            continue
        found.append(m.span())
    return found


# ---------------------------------------------------------------- 生年月日
_NUM = r"\d{1,4}"
_ERA = r"(?:明治|大正|昭和|平成|令和|[mtshr]\.?)"
_DATE = (
    rf"(?:(?:19|20)\d{{2}}\s?(?:年|/|\.|-)\s?\d{{1,2}}\s?(?:月|/|\.|-)\s?\d{{1,2}}日?"
    rf"|{_ERA}\s?(?:\d{{1,2}}|元)\s?(?:年|\.|/|-)\s?\d{{1,2}}\s?(?:月|\.|/|-)\s?\d{{1,2}}日?)"
)
_BIRTH_GATE_RE = re.compile(r"生年月日|誕生日|出生|生まれ|\d日?\s?(?:生|うまれ)")
_BIRTH_AFTER_RE = re.compile(rf"(?:生年月日|誕生日|生まれ|出生日)(?:は|が|:|:|の方は|、|\s){{0,3}}({_DATE})")
_BIRTH_BEFORE_RE = re.compile(rf"({_DATE})\s?(?:生まれ|生|うまれ)(?!活|産|徒|涯|成)")


def find_birth_dates(text: str) -> list[Span]:
    """Spans of full dates (year, month, day) tied to 生年月日・生まれ・誕生日."""
    found: list[Span] = []
    # every gate word holds 生 or うまれ: two substring tests spare most messages the regex
    if ("生" not in text and "うまれ" not in text) or not _BIRTH_GATE_RE.search(text):
        return found
    seen: set[Span] = set()
    for regex in (_BIRTH_AFTER_RE, _BIRTH_BEFORE_RE):
        for m in regex.finditer(text):
            span = m.span(1)
            if span not in seen:
                seen.add(span)
                found.append(span)
    return found


# ---------------------------------------------------------------- 住所
_KANJI_DIGITS = "〇一二三四五六七八九"
_N = r"[0-9〇一二三四五六七八九十百千]+"
# The regex starts at the number (a fast scan); the place name before it is added afterwards.
_ADDRESS_RE = re.compile(
    rf"{_N}丁目(?:{_N}(?:番地?|-)(?:{_N}(?:号|-{_N})?)?)(?:号)?"
    rf"|{_N}番地(?:の?{_N})?"
    rf"|{_N}番{_N}号"
    rf"|[町村字](?:[一-龥々]{{1,4}})?\d{{1,4}}-\d{{1,4}}(?:-\d{{1,4}})?(?![\d-])"
)
_PLACE_BEFORE_RE = re.compile(r"[一-龥々ぁ-ゖ]{1,12}$")


def kanji_number_to_int(value: str) -> int:
    """Convert 千二百三十四 or 二〇 or 12 to an int."""
    if value.isdigit():
        return int(value)
    if all(c in _KANJI_DIGITS for c in value):
        return int("".join(str(_KANJI_DIGITS.index(c)) for c in value))
    total, current = 0, 0
    units = {"十": 10, "百": 100, "千": 1000}
    for c in value:
        if c in units:
            total += (current or 1) * units[c]
            current = 0
        elif c in _KANJI_DIGITS:
            current = _KANJI_DIGITS.index(c)
        elif c.isdigit():
            current = current * 10 + int(c)
    return total + current


_NUMBER_TOKEN_RE = re.compile(_N)
_PREFECTURE_RE = re.compile(r"^.*?[都道府県]")
_CITY_RE = re.compile(r"^.*?[市郡]")
_ADDRESS_UNIT_RE = re.compile(r"丁目|番地の?|番|号|の")
_DASHES_RE = re.compile(r"-+")
_TOWN_RE = re.compile("[町村字]")


def canonical_address(value: str) -> str:
    """Canonical form for allow-list comparison: Arabic numerals joined by '-', no city prefix."""
    text = _PREFECTURE_RE.sub("", value)
    text = _CITY_RE.sub("", text)
    text = _NUMBER_TOKEN_RE.sub(lambda m: str(kanji_number_to_int(m.group())), text)
    text = _ADDRESS_UNIT_RE.sub("-", text)
    return _DASHES_RE.sub("-", text).strip("-")


def find_addresses(text: str, allowed: frozenset[str]) -> list[Span]:
    """Spans of street addresses down to the block or house number, except allow-listed ones."""
    found: list[Span] = []
    if "丁目" not in text and "番" not in text and not ("-" in text and _TOWN_RE.search(text)):
        return found
    for m in _ADDRESS_RE.finditer(text):
        start = m.start()
        place = _PLACE_BEFORE_RE.search(text, max(0, start - 12), start)
        if place is not None:
            start = place.start()
        elif m.group()[0] not in "町村字":
            continue  # a bare "3番5号" without a place name is not an address
        canon = canonical_address(text[start : m.end()])
        if any(canon == a or canon.endswith(a) or a.endswith(canon) for a in allowed if canon):
            continue
        found.append((start, m.end()))
    return found


# ---------------------------------------------------------------- 口座番号
_ACCOUNT_RE = re.compile(r"口座(?:番号|no\.?|#)?\s?(?:は|が|を|:|:|、|\s){0,3}(\d{7})(?![\d,])")


def find_bank_accounts(text: str) -> list[Span]:
    """Spans of 7-digit account numbers tied to 口座(番号)."""
    found: list[Span] = []
    if "口座" not in text:
        return found
    for m in _ACCOUNT_RE.finditer(text):
        found.append(m.span(1))
    return found


# ---------------------------------------------------------------- メールアドレス
_EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._%+-]{0,63}@([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+)")


def find_emails(text: str, allowed_domains: frozenset[str]) -> list[Span]:
    """Spans of e-mail addresses whose domain is not allow-listed (subdomains included)."""
    found: list[Span] = []
    if "@" not in text:
        return found
    for m in _EMAIL_RE.finditer(text):
        domain = m.group(1).lower().rstrip(".")
        if any(domain == d or domain.endswith("." + d) for d in allowed_domains):
            continue
        found.append(m.span())
    return found


# ---------------------------------------------------------------- quotes shown back
# Over the *original* text (any width, any hyphen): a finding's quote is shown on the nudge
# card, so a number or address in it is masked whether or not a finder would accept it.
MASK = "＊＊＊"
_MASK_MIN_DIGITS = 6  # phone numbers, マイナンバー, accounts, postal codes, staff and case ids
_MASK_CONTEXT = 64  # characters read on each side of a quote, so a datum its edge cuts is masked
# digits (ASCII or full width) joined by at most two separators: 090-1234-5678, (027)224-1111,
# ０９０ー１２３４ー５６７８, 090 1234 5678 (an explicit set lets re skip non-digits fast)
_DIGIT_RUN_RE = re.compile(rf"[0-9０-９](?:[ \t\u3000{DIGIT_DASHES}－().（）．]{{0,2}}[0-9０-９])*")
_DIGIT_RE = re.compile("[0-9０-９]")
_EMAIL_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._%+-")
_EMAIL_CHARS_WIDE = frozenset(chr(ord(c) + 0xFEE0) for c in _EMAIL_CHARS)  # ０-９Ａ-Ｚａ-ｚ．－…
_EMAIL_ANY = _EMAIL_CHARS | _EMAIL_CHARS_WIDE


def _email_spans(text: str, lo: int, hi: int) -> list[Span]:
    """Spans in text[lo:hi] of the address-like words around each @ (or ＠)."""
    spans: list[Span] = []
    for at in ("@", "＠"):
        p = text.find(at, lo, hi)
        while p >= 0:
            s, e = p, p + 1
            while s > lo and text[s - 1] in _EMAIL_ANY:
                s -= 1
            while e < hi and text[e] in _EMAIL_ANY:
                e += 1
            if e - s > 1:  # a lone @ is no address
                spans.append((s, e))
            p = text.find(at, e, hi)
    return spans


def _datum_spans(text: str, lo: int, hi: int) -> list[Span]:
    """Sorted, disjoint spans in text[lo:hi] of e-mail addresses and runs of 6+ digits."""
    spans: list[Span] = []
    for m in _DIGIT_RUN_RE.finditer(text, lo, hi):
        s, e = m.span()
        if e - s >= _MASK_MIN_DIGITS and sum(c.isdigit() for c in m.group()) >= _MASK_MIN_DIGITS:
            if s > lo and text[s - 1] in "(（":
                s -= 1  # (027)224-1111
            spans.append((s, e))
    emails = _email_spans(text, lo, hi)
    if not emails:
        return spans
    merged: list[Span] = []
    for s, e in sorted(spans + emails):  # an address holding digits is one datum
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def masked_quote(text: str, start: int, end: int) -> str:
    """``text[start:end]`` with every e-mail address and run of 6+ digits replaced by ＊＊＊.

    The data are looked for around the span too, so one the span cuts in two is still masked
    (its visible part becomes ＊＊＊).
    """
    lo, hi = max(0, start - _MASK_CONTEXT), min(len(text), end + _MASK_CONTEXT)
    # a number shows in the span only through a digit; an address may show only its name
    if (
        _DIGIT_RE.search(text, start, end) is None
        and text.find("@", lo, hi) < 0
        and text.find("＠", lo, hi) < 0
    ):
        return text[start:end]  # most quotes: nothing to mask
    pieces: list[str] = []
    pos = start
    for s, e in _datum_spans(text, lo, hi):
        if e <= pos or s >= end:
            continue
        pieces.append(text[pos:s])  # empty when the datum began before pos
        pieces.append(MASK)
        pos = e
    if pos < end:
        pieces.append(text[pos:end])
    return "".join(pieces)


IdentifierFinder = Callable[[str, "AllowSets"], list[Span]]


class AllowSets:
    """Allow-lists prepared for fast comparison."""

    def __init__(self, phone_numbers: list[str], addresses: list[str], email_domains: list[str]) -> None:
        self.phone_digits = frozenset(digits_only(p) for p in phone_numbers)
        self.addresses = frozenset(canonical_address(a) for a in addresses)
        self.email_domains = frozenset(d.lower().lstrip("@.") for d in email_domains)


IDENTIFIERS: dict[str, tuple[str, IdentifierFinder]] = {
    "my_number": ("マイナンバー", lambda text, allow: find_my_numbers(text)),
    "phone_number": ("電話番号", lambda text, allow: find_phone_numbers(text, allow.phone_digits)),
    "birth_date": ("生年月日", lambda text, allow: find_birth_dates(text)),
    "address": ("住所", lambda text, allow: find_addresses(text, allow.addresses)),
    "bank_account": ("口座番号", lambda text, allow: find_bank_accounts(text)),
    "email_address": ("メールアドレス", lambda text, allow: find_emails(text, allow.email_domains)),
}
