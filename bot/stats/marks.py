"""Dates an admin marks on the trends (a rule change, a campaign), to compare before and after.

Kept in the database (``StatsMarks``), so that every replica shows the same marks. Only the
date and a short label are kept: no name of who marked it. Before the database held them they
lived in ``data/stats_marks.json`` per replica; ``import_file`` moves such a file's marks in.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.storage.ports import StatsMarks

log = logging.getLogger(__name__)

MAX_LABEL_LENGTH = 80
MAX_MARKS = 200


class MarkError(ValueError):
    """A mark that cannot be stored; the message is Japanese, for the page."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A marked date and what happened then."""

    day: date
    label: str


def clean_label(label: str) -> str:
    """The label as stored (runs of white space made one space), or ``MarkError``."""
    cleaned = " ".join(label.split())
    if not cleaned:
        raise MarkError("ラベルを入力してください。")
    if any(char < " " or char == "\x7f" or "\ud800" <= char <= "\udfff" for char in cleaned):
        raise MarkError("ラベルに使えない文字が含まれています。")
    if len(cleaned) > MAX_LABEL_LENGTH:
        raise MarkError(f"ラベルは{MAX_LABEL_LENGTH}文字以内にしてください。")
    return cleaned


class MarkStore:
    """The marks, checked here and stored through the ``StatsMarks`` repository."""

    def __init__(self, repository: StatsMarks) -> None:
        self._repository = repository

    async def list(self) -> builtins.list[Mark]:
        """All marks, oldest first."""
        return [Mark(day, label) for day, label in await self._repository.list_marks()]

    async def add(self, day: date, label: str) -> Mark:
        """Store a mark (a second mark on the same day replaces the first)."""
        mark = Mark(day, clean_label(label))
        if not await self._repository.put_mark(mark.day, mark.label, max_marks=MAX_MARKS):
            raise MarkError(f"印は{MAX_MARKS}件までです。古い印を削除してください。")
        return mark

    async def remove(self, day: date) -> bool:
        """Remove the mark on ``day``; True if there was one."""
        return await self._repository.delete_mark(day)

    async def import_file(self, path: str | os.PathLike[str]) -> int:
        """Move the marks of an older version's JSON file in (a day marked already keeps its
        label), then rename the file to ``*.imported``; how many marks were added.

        A file that cannot be read is left where it is, with a warning.
        """
        source = Path(path)
        marks = await asyncio.to_thread(_read_marks_file, source)
        if marks is None:
            return 0
        added = 0
        try:  # the bot starts whatever happens here: the marks are a convenience
            known = {mark.day for mark in await self.list()}
            for mark in marks:
                if mark.day not in known and await self._repository.put_mark(
                    mark.day, mark.label, max_marks=MAX_MARKS
                ):
                    known.add(mark.day)
                    added += 1
            await asyncio.to_thread(source.rename, source.with_name(source.name + ".imported"))
        except Exception as error:
            log.warning(
                "dashboard marks file %s imported in part (%d marks): %s", source, added, type(error).__name__
            )
            return added
        log.info("imported %d dashboard marks from %s", added, source)
        return added


def _read_marks_file(source: Path) -> builtins.list[Mark] | None:
    """The marks of an older version's file (entries this version refuses are left out); None
    when there is no file or it cannot be read."""
    if not source.is_file():
        return None
    try:
        items = json.loads(source.read_text(encoding="utf-8")).get("marks", [])
        if not isinstance(items, builtins.list):
            raise TypeError("marks is not a list")
    except (OSError, ValueError, TypeError, AttributeError) as error:
        log.warning("dashboard marks file %s not imported: %s", source, type(error).__name__)
        return None
    marks: builtins.list[Mark] = []
    for item in items:
        try:
            marks.append(Mark(date.fromisoformat(item["day"]), clean_label(str(item["label"]))))
        except (ValueError, KeyError, TypeError):  # MarkError is a ValueError
            log.warning("a mark in %s was left out: it is not valid", source)  # never its label
    return marks
