"""Helpers shared by the SQL repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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


def insert_for(dialect: sa.Connection | str, table: sa.Table) -> Any:
    """The dialect's INSERT (given a connection or a dialect name), which knows ON CONFLICT."""
    name = dialect if isinstance(dialect, str) else dialect.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def per_dialect(build: Callable[[Callable[[sa.Table], Any]], Any]) -> dict[str, Any]:
    """Build a statement once for each dialect, at import time.

    A statement object that is reused keeps its compiled form and cache key; building it
    anew for every call costs more CPU than running it on SQLite.
    """
    return {"sqlite": build(sqlite.insert), "postgresql": build(postgresql.insert)}


def sqlite_text_of(value: datetime) -> str:
    """A timestamp as SQLAlchemy keeps it in SQLite (UTC, no offset, microseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; pass an aware one (UTC)")
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond:06d}"


def sqlite_connection(conn: sa.Connection) -> Any | None:
    """The ``sqlite3`` connection under ``conn`` on SQLite (for the hot statements), else None."""
    if conn.dialect.name != "sqlite":
        return None
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return raw


# Small functions to hand to Database.write / Database.read for single statements.


def execute(conn: sa.Connection, stmt: sa.Executable) -> None:
    """Run a statement, ignoring any result."""
    conn.execute(stmt)


def rowcount(conn: sa.Connection, stmt: sa.Executable) -> int:
    """Rows affected by an UPDATE or DELETE."""
    return int(conn.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def returns_row(conn: sa.Connection, stmt: sa.Executable) -> bool:
    """Whether an INSERT ... RETURNING (or a SELECT) produced a row."""
    return conn.execute(stmt).first() is not None


def scalar(conn: sa.Connection, stmt: sa.Executable) -> Any:
    """The single value of a one-row result, or None."""
    return conn.execute(stmt).scalar_one_or_none()


def scalars(conn: sa.Connection, stmt: sa.Executable) -> list[Any]:
    """The first column of every row."""
    return list(conn.execute(stmt).scalars())


def rows(conn: sa.Connection, stmt: sa.Executable) -> list[sa.Row[Any]]:
    """Every row."""
    return list(conn.execute(stmt))


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

    def _insert(self, table: sa.Table) -> Any:
        return insert_for(self._db.dialect, table)
