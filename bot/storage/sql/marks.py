"""``StatsMarks``: the dashboard's marked dates in one table, the same for every replica."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from bot.storage.models import stats_marks
from bot.storage.sql._common import SqlRepository, insert_for, utcnow

_LIST = sa.select(stats_marks.c.day, stats_marks.c.label).order_by(stats_marks.c.day)
_OTHER_DAYS = (
    sa.select(sa.func.count()).select_from(stats_marks).where(stats_marks.c.day != sa.bindparam("day"))
)


def _list(conn: sa.Connection) -> list[tuple[date, str]]:
    return [(day, label) for day, label in conn.execute(_LIST)]


def _put(conn: sa.Connection, day: date, label: str, max_marks: int) -> bool:
    if conn.dialect.name == "postgresql":
        # one writer of the marks at a time, on any replica: the count below stays true
        conn.execute(sa.text("LOCK TABLE stats_marks IN SHARE ROW EXCLUSIVE MODE"))
    # on SQLite the writer's BEGIN IMMEDIATE already holds the write lock
    if int(conn.execute(_OTHER_DAYS, {"day": day}).scalar_one()) >= max_marks:
        return False
    insert = insert_for(conn, stats_marks).values(day=day, label=label, updated_at=utcnow())
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["day"],
            set_={"label": insert.excluded.label, "updated_at": insert.excluded.updated_at},
        )
    )
    return True


def _delete(conn: sa.Connection, day: date) -> bool:
    return bool(conn.execute(sa.delete(stats_marks).where(stats_marks.c.day == day)).rowcount)


class SqlStatsMarks(SqlRepository):
    """``StatsMarks`` (durable writes: an admin typed these)."""

    async def list_marks(self) -> list[tuple[date, str]]:
        """Every (day, label), oldest first."""
        return await self._db.read(_list)

    async def put_mark(self, day: date, label: str, *, max_marks: int) -> bool:
        """Store the mark of ``day`` unless ``max_marks`` other days are marked."""
        return await self._db.write(_put, day, label, max_marks)

    async def delete_mark(self, day: date) -> bool:
        """Remove the mark of ``day``; True if there was one."""
        return await self._db.write(_delete, day)
