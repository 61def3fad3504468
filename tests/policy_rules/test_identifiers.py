"""Validated identifiers of personal data, as table tests over the matching view."""

from __future__ import annotations

import pytest

from policy_rules.identifiers import (
    AllowSets,
    canonical_address,
    find_addresses,
    find_bank_accounts,
    find_birth_dates,
    find_emails,
    find_my_numbers,
    find_phone_numbers,
    kanji_number_to_int,
    masked_quote,
    my_number_check_digit_ok,
)
from policy_rules.normalize import build_view

ALLOW = AllowSets(["027-224-1111"], ["前橋市大手町二丁目12番1号"], ["city.maebashi.gunma.jp"])


def found(finder, text: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(list(finder(build_view(text).text)))


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("123456789018", True),
        ("123456789012", False),
        ("000000000000", True),
        ("12345678901", False),
        ("abcdefghijkl", False),
    ],
)
def test_my_number_check_digit(digits: str, valid: bool) -> None:
    assert my_number_check_digit_ok(digits) is valid


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("番号は123456789018です", True),
        ("番号は 1234 5678 9018 です", True),
        ("番号は１２３４－５６７８－９０１８", True),
        ("番号は1234ー5678ー9018", True),
        ("伝票番号 123456789012", False),  # wrong check digit
        ("法人番号 1123456789018", False),  # 13 digits
        ("1234-5678-9018-7", False),
    ],
)
def test_my_numbers(text: str, fires: bool) -> None:
    assert found(find_my_numbers, text) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("携帯 070-2468-1357", True),
        ("携帯09011112222です", True),
        ("ＩＰ電話 ０５０ー１１１１ー２２２２", True),
        ("自宅(027)123-4567", True),
        ("沼田 0278-55-1234", True),
        ("東京 03 1234 5678", True),
        ("代表 027-224-1111", False),  # allow-listed
        ("代表 027 224 1111", False),
        ("フリーダイヤル 0120-123-456", False),
        ("ナビダイヤル 0570-123-456", False),
        ("0800-123-4567 は無料", False),
        ("内線 2345", False),
        ("受付 080000000000", False),  # 12 digits: not a phone
        ("日付 2024-06-11", False),
    ],
)
def test_phone_numbers(text: str, fires: bool) -> None:
    assert found(lambda t: find_phone_numbers(t, ALLOW.phone_digits), text) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("生年月日: 平成3年7月19日", True),
        ("生年月日は1979年10月2日", True),
        ("昭和44年12月30日生まれの男性", True),
        ("H2.5.17生まれ", True),
        ("誕生日は１９９５年８月９日", True),
        ("2001/3/3生", True),
        ("平成12年生まれ", False),  # no month and day
        ("誕生日が12月24日", False),  # no year
        ("生年月日欄の様式を変更し、令和7年4月1日から使います", False),
        ("令和6年4月1日から開始", False),
    ],
)
def test_birth_dates(text: str, fires: bool) -> None:
    assert found(find_birth_dates, text) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("前橋市紅雲町3-21-8", True),
        ("前橋市富士見町石井4321番地", True),
        ("粕川町五百六十七番地", True),
        ("表町一丁目二十番五号", True),
        ("下小出町３丁目２２－９", True),
        ("大胡町堀越876番地の2", True),
        ("前橋市大手町二丁目12番1号", False),  # allow-listed
        ("前橋市大手町2-12-1", False),
        ("大手町2丁目12番1号", False),
        ("要領 4-3-2 を参照", False),
        ("本町二丁目の信号付近", False),
        ("議案第12号", False),
    ],
)
def test_addresses(text: str, fires: bool) -> None:
    assert found(lambda t: find_addresses(t, ALLOW.addresses), text) is fires


@pytest.mark.parametrize(
    ("value", "canonical"),
    [("前橋市大手町二丁目12番1号", "大手町2-12-1"), ("群馬県前橋市大手町2-12-1", "大手町2-12-1")],
)
def test_canonical_address(value: str, canonical: str) -> None:
    assert canonical_address(value) == canonical


@pytest.mark.parametrize(
    ("kanji", "number"), [("千二百三十四", 1234), ("十三", 13), ("二〇", 20), ("五", 5), ("12", 12)]
)
def test_kanji_numbers(kanji: str, number: int) -> None:
    assert kanji_number_to_int(kanji) == number


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("口座番号 2468024（当座）", True),
        ("口座番号は９８７６５４３", True),
        ("口座番号：1234567", True),
        ("普通口座1234567", True),
        ("口座番号の欄が空です", False),
        ("交付額 7,654,321円", False),
        ("口座番号 12345678", False),
    ],
)
def test_bank_accounts(text: str, fires: bool) -> None:
    assert found(find_bank_accounts, text) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("contact@example.co.jp", True),
        ("taro.yamada.1234@gmail.com まで", True),
        ("jinji@pref.example.lg.jp", True),
        ("joho@city.maebashi.gunma.jp", False),
        ("school1@edu.city.maebashi.gunma.jp", False),
        ("x@notcity.maebashi.gunma.jp.evil.example", True),
        ("x@fakecity.maebashi.gunma.jp", True),
    ],
)
def test_emails(text: str, fires: bool) -> None:
    assert found(lambda t: find_emails(t, ALLOW.email_domains), text) is fires


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("観光課 田中\n携帯 090-1234-5678", "観光課 田中\n携帯 ＊＊＊"),
        ("mail tanaka@example.com まで", "mail ＊＊＊ まで"),
        ("ｔａｎａｋａ＠ｅｘａｍｐｌｅ．ｊｐ", "＊＊＊"),
        ("090-1234-5678までどうぞ", "＊＊＊までどうぞ"),
        ("TEL（０２７）１２３－４５６７", "TEL＊＊＊"),
        ("携帯 090 1234 5678", "携帯 ＊＊＊"),
        ("マイナンバー 1234 5678 9018", "マイナンバー ＊＊＊"),
        ("口座 1234567、職員番号 123456", "口座 ＊＊＊、職員番号 ＊＊＊"),
        ("a1@b.jp 080-0000-0000", "＊＊＊ ＊＊＊"),
        ("内線1234までどうぞ", "内線1234までどうぞ"),  # an extension is no personal datum
        ("12345までどうぞ", "12345までどうぞ"),
        ("2024年6月11日 10:00", "2024年6月11日 10:00"),
        ("助成額 3,210,000円", "助成額 3,210,000円"),
        ("お疲れ様です", "お疲れ様です"),
        ("@ のあと", "@ のあと"),
        ("", ""),
    ],
)
def test_masked_quote(text: str, masked: str) -> None:
    assert masked_quote(text, 0, len(text)) == masked


def test_masked_quote_masks_a_datum_cut_by_the_span() -> None:
    text = "連絡は 090-1234-5678 まで、メールは tanaka@example.com へ"
    number, mail = text.index("090"), text.index("tanaka")
    assert masked_quote(text, 0, number + 6) == "連絡は ＊＊＊"  # ends inside the number
    assert masked_quote(text, number + 5, number + 16) == "＊＊＊ まで"  # starts inside it
    assert masked_quote(text, mail - 5, mail + 4) == "メールは ＊＊＊"  # only the name part shows
    assert masked_quote(text, mail + 7, mail + 18) == "＊＊＊"
