"""Dates an admin marks on the trends (a rule change, a campaign), to compare before and after.

The storage package has no table for these, so they live in a small JSON file under the data
directory (``data/stats_marks.json``), written atomically. Only the date and a short label are
kept: no name of who marked it.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MAX_LABEL_LENGTH = 80
MAX_MARKS = 200


class MarkError(ValueError):
    """A mark that cannot be stored; the message is Japanese, for the page."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A marked date and what happened then."""

    day: date
    label: str


class MarkStore:
    """Marks in a JSON file; reads are cached until the file changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[float, list[Mark]] | None = None

    def list(self) -> builtins.list[Mark]:
        """All marks, oldest first (an unreadable file counts as none)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == mtime:
            return list(self._cache[1])
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            marks = sorted(
                (Mark(date.fromisoformat(item["day"]), str(item["label"])) for item in raw.get("marks", [])),
                key=lambda m: (m.day, m.label),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []
        self._cache = (mtime, marks)
        return list(marks)

    def add(self, day: date, label: str) -> Mark:
        """Store a mark (a second mark on the same day replaces the first)."""
        label = " ".join(label.split())
        if not label:
            raise MarkError("ラベルを入力してください。")
        if len(label) > MAX_LABEL_LENGTH:
            raise MarkError(f"ラベルは{MAX_LABEL_LENGTH}文字以内にしてください。")
        mark = Mark(day, label)
        with self._lock:
            marks = [m for m in self.list() if m.day != day]
            if len(marks) >= MAX_MARKS:
                raise MarkError(f"印は{MAX_MARKS}件までです。古い印を削除してください。")
            self._write([*marks, mark])
        return mark

    def remove(self, day: date) -> bool:
        """Remove the mark on ``day``; True if there was one."""
        with self._lock:
            marks = self.list()
            kept = [m for m in marks if m.day != day]
            if len(kept) == len(marks):
                return False
            self._write(kept)
            return True

    def _write(self, marks: builtins.list[Mark]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "marks": [
                {"day": m.day.isoformat(), "label": m.label} for m in sorted(marks, key=lambda m: m.day)
            ]
        }
        # Write-and-rename, so a crash leaves the old file or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".marks-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache = None
