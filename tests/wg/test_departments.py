"""The department directory: the shipped sample and CSV import with every bad row reported by line."""

from __future__ import annotations

from pathlib import Path

import pytest

import wg
from wg.departments import load_departments, parse_departments_csv
from wg.problems import ConfigError

GUID_A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
GUID_B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


def test_the_sample_has_about_eighty_departments_and_says_it_is_a_sample() -> None:
    directory = load_departments()
    assert 78 <= len(directory) <= 85
    text = (Path(wg.__file__).parent / "departments_sample.csv").read_text(encoding="utf-8")
    assert text.startswith("# SAMPLE ONLY / サンプル")


@pytest.mark.parametrize(
    "text",
    [
        f"code,name,contacts\nD1,秘書課,{GUID_A};{GUID_B}\nD2,広報課,\n",
        f"\ufeffcode,name,contacts\r\nD1,秘書課,{GUID_A};{GUID_B}\r\nD2,広報課,\r\n",  # Excel: BOM and CRLF
        f'# comment\nCode,Name,Contacts\n\nD1,秘書課,"{GUID_A}; {GUID_B}"\nD2,広報課\n',
    ],
)
def test_valid_csv(text: str) -> None:
    directory = parse_departments_csv(text)
    assert [(d.code, d.name) for d in directory] == [("D1", "秘書課"), ("D2", "広報課")]
    assert directory.get("D1").contacts == (GUID_A, GUID_B)  # type: ignore[union-attr]
    assert directory.by_name("広報課").contacts == ()  # type: ignore[union-attr]
    assert [d.code for d in directory.for_contact(GUID_B)] == ["D1"]


def test_every_bad_row_is_reported_with_its_line() -> None:
    text = (
        "# sample\n"  # 1
        "code,name,contacts\n"  # 2
        "D1,秘書課,\n"  # 3
        "D1,広報課,\n"  # 4 duplicate code
        "D3,秘書課,\n"  # 5 duplicate name
        "D 4,危機管理室,\n"  # 6 bad code
        "D5,,\n"  # 7 empty name
        "D6,総務課,not-a-guid\n"  # 8 bad contact
        "D7,財政課,x,y\n"  # 9 too many columns
        "D8\n"  # 10 too few columns
    )
    with pytest.raises(ConfigError) as caught:
        parse_departments_csv(text, "depts.csv")
    got = [(p.line, p.path) for p in caught.value.problems]
    assert got == [(4, "code"), (5, "name"), (6, "code"), (7, "name"), (8, "contacts"), (9, ""), (10, "")]
    assert all(p.file == "depts.csv" and p.message_ja and p.message_en for p in caught.value.problems)
    assert "depts.csv:4: code: code「D1」は3行目と重複しています" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "1件もありません"), ("id,name\nD1,x\n", "見出し"), ("# only a comment\n", "1件もありません")],
)
def test_unusable_files(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_departments_csv(text)
    assert words in str(caught.value)


def test_load_from_a_file_with_bom_and_reject_non_utf8(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes("code,name,contacts\nD1,秘書課,\n".encode("utf-8-sig"))
    assert [d.name for d in load_departments(good)] == ["秘書課"]
    bad = tmp_path / "sjis.csv"
    bad.write_bytes("code,name,contacts\nD1,秘書課,\n".encode("shift_jis"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_departments(bad)
