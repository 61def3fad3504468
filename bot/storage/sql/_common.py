"""Helpers shared by the SQL repositories."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from bot.storage.database import Database

T = TypeVar("T")

# Keeps every multi-row statement well below SQLite's and asyncpg's bound-parameter limits.
MAX_PARAMS_PER_STATEMENT = 30_000


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def insert_for(db: Database, table: sa.Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    if db.dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def chunks(items: Sequence[T], columns: int) -> Iterator[Sequence[T]]:
    """Split rows so that one statement stays under the parameter limit."""
    size = max(1, MAX_PARAMS_PER_STATEMENT // max(1, columns))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique_in_order(items: Iterable[str]) -> list[str]:
    """Drop repeats, keep the first occurrence's position."""
    return list(dict.fromkeys(items))


class SqlRepository:
    """Base: holds the Database."""

    def __init__(self, db: Database) -> None:
        self._db = db
