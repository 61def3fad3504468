"""Dashboard marks in the database: every replica sees the same, one per day, at most MAX_MARKS,
and an older version's JSON file moves in once."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.stats.marks import MAX_MARKS, Mark, MarkError, MarkStore
from bot.storage import Database

DAY = date(2026, 11, 16)


async def test_a_mark_made_on_one_replica_shows_on_the_other(db: Database, replica: Database) -> None:
    here, there = MarkStore(db.marks), MarkStore(replica.marks)
    await here.add(DAY, "挨拶ルールの文言を変更")
    await there.add(DAY + timedelta(days=7), "キャンペーン開始")
    expected = [Mark(DAY, "挨拶ルールの文言を変更"), Mark(DAY + timedelta(days=7), "キャンペーン開始")]
    assert await here.list() == expected
    assert await there.list() == expected
    await there.add(DAY, "  文言を  再変更 ")  # the same day: replaced, white space made one
    assert await here.list() == [Mark(DAY, "文言を 再変更"), expected[1]]
    assert await here.remove(DAY + timedelta(days=7)) is True
    assert await there.remove(DAY + timedelta(days=7)) is False
    assert await there.list() == [Mark(DAY, "文言を 再変更")]


async def test_no_more_than_max_marks_even_from_two_replicas_at_once(db: Database, replica: Database) -> None:
    here, there = MarkStore(db.marks), MarkStore(replica.marks)
    for number in range(MAX_MARKS - 1):
        await here.add(DAY + timedelta(days=number), f"印{number}")
    await asyncio.gather(here.list(), there.list(), here.list(), there.list())  # both pools warm
    tries = [
        (here if n % 2 else there).add(DAY + timedelta(days=MAX_MARKS + n), f"最後の一つ{n}")
        for n in range(40)
    ]
    results = await asyncio.gather(*tries, return_exceptions=True)
    assert sum(isinstance(result, Mark) for result in results) == 1
    assert all(isinstance(result, (Mark, MarkError)) for result in results)
    assert all("200件まで" in str(result) for result in results if isinstance(result, MarkError))
    assert len(await here.list()) == MAX_MARKS
    await here.add(DAY, "上書きは数に入らない")  # replacing a day's mark is allowed when full
    assert (await here.list())[0].label == "上書きは数に入らない"


@pytest.mark.parametrize(
    "label",
    ["ヌル\x00文字", "改行のない制御\x07", "削除\x7f", "サロゲート\ud800"],
    ids=["NUL", "BEL", "DEL", "surrogate"],
)
async def test_labels_with_characters_no_database_keeps_are_refused(db: Database, label: str) -> None:
    with pytest.raises(MarkError, match="使えない文字"):
        await MarkStore(db.marks).add(DAY, label)


async def test_an_import_that_cannot_finish_does_not_stop_the_bot(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "stats_marks.json"
    items = [{"day": "2026-11-16", "label": "良い印"}, {"day": "2026-11-17", "label": "NUL\u0000入り"}]
    source.write_text(json.dumps({"marks": items}, ensure_ascii=False))
    (tmp_path / "stats_marks.json.imported").mkdir()  # the rename cannot happen
    (tmp_path / "stats_marks.json.imported" / "x").write_text("x")
    assert await MarkStore(db.marks).import_file(source) == 1
    assert await MarkStore(db.marks).list() == [Mark(DAY, "良い印")]
    assert source.exists()


@pytest.mark.parametrize(
    ("content", "imported", "renamed"),
    [
        (
            {
                "marks": [
                    {"day": "2026-11-16", "label": "ファイルの印"},
                    {"day": "2026-11-23", "label": "二つ目"},
                ]
            },
            2,
            True,
        ),
        ({"marks": []}, 0, True),
        ("not json", 0, False),
        ({"marks": [{"day": "not a date", "label": "x"}]}, 0, True),  # the entry is left out
    ],
    ids=["two marks", "empty", "unreadable", "bad date"],
)
async def test_an_older_versions_marks_file_moves_in_once(
    db: Database, tmp_path: Path, content: object, imported: int, renamed: bool
) -> None:
    source = tmp_path / "stats_marks.json"
    source.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    store = MarkStore(db.marks)
    await store.add(DAY + timedelta(days=7), "データベースの印")  # a day marked already keeps its label
    assert await store.import_file(source) == (1 if imported == 2 else imported)
    assert source.exists() is not renamed
    assert (tmp_path / "stats_marks.json.imported").exists() is renamed
    labels = {mark.day: mark.label for mark in await store.list()}
    assert labels[DAY + timedelta(days=7)] == "データベースの印"
    if imported:
        assert labels[DAY] == "ファイルの印"
    assert await store.import_file(source) == 0  # nothing left to import


async def test_no_file_imports_nothing(db: Database, tmp_path: Path) -> None:
    assert await MarkStore(db.marks).import_file(tmp_path / "missing.json") == 0
