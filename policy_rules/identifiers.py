"""Validated identifiers of personal data, found in the matching view.

Each finder returns (start, end) spans of the view. Digits in the view are ASCII and every
hyphen-like mark between digits is already ``-`` (see policy_rules.normalize).
"""

from __future__ import annotations

import re
from collections.abc import Callable

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


# a run of at least 10 digits (separators allowed): phones and マイナンバー need one
_LONG_DIGIT_RUN_RE = re.compile(r"[\d(][\d()-]{8,}\d")
NEEDS_LONG_DIGIT_RUN = frozenset({"my_number", "phone_number"})
"""Identifiers that cannot be found in a text without ``has_long_digit_run``."""


def has_long_digit_run(text: str) -> bool:
    """Whether ``text`` holds a run of at least 10 digits, separators allowed."""
    return _LONG_DIGIT_RUN_RE.search(text) is not None


def find_my_numbers(text: str) -> list[Span]:
    """Spans of 12-digit numbers (separators allowed) with a valid check digit."""
    found: list[Span] = []
    if not _LONG_DIGIT_RUN_RE.search(text):
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
_PLACE = r"[一-龥々ぁ-ゖ]{1,12}?"
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
