"""Daily counters and distinct-user sets for the statistics (no text, no names)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa

from bot.storage.models import stats_daily, stats_distinct_users
from bot.storage.ports import StatsFilter, StatsRow
from bot.storage.sql._common import SqlRepository, per_dialect, rows, scalar

_KEY = ("day", "conversation_kind", "department", "rule_id", "metric")


def _build_add(insert: Any) -> Any:
    stmt = insert(stats_daily)
    return stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_={"n": stats_daily.c.n + stmt.excluded.n}
    )


_ADD = per_dialect(_build_add)
_ADD_USER = per_dialect(lambda insert: insert(stats_distinct_users).on_conflict_do_nothing())


def _add(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    # executemany of one prepared upsert: the driver loops, not Python.
    conn.execute(_ADD[conn.dialect.name], values)


def _add_users(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    conn.execute(_ADD_USER[conn.dialect.name], values)


class SqlStatsCounters(SqlRepository):
    """``StatsCounters``: one additive upsert per batch."""

    async def add(self, rows: Iterable[StatsRow | tuple[date, str, str, str, str, int]]) -> None:
        """Add the counts to what is stored (batched upsert in one transaction)."""
        summed: dict[tuple[date, str, str, str, str], int] = defaultdict(int)
        for row in rows:
            if isinstance(row, StatsRow):
                key = (row.day, row.conversation_kind, row.department, row.rule_id, row.metric)
                n = row.n
            else:
                key, n = (row[0], row[1], row[2], row[3], row[4]), row[5]
            summed[key] += n
        # Sorted, so that two replicas upserting overlapping keys lock rows in the same order.
        values = [dict(zip(_KEY, key, strict=True), n=n) for key, n in sorted(summed.items()) if n]
        if values:
            await self._db.write_relaxed(_add, values)

    async def query(self, since: date, until: date, filters: StatsFilter | None = None) -> list[StatsRow]:
        """Stored rows with ``since <= day <= until`` matching the filters, ordered by day."""
        t = stats_daily
        query = sa.select(t).where(t.c.day >= since, t.c.day <= until)
        f = filters or StatsFilter()
        for column, allowed in (
            (t.c.conversation_kind, f.conversation_kinds),
            (t.c.department, f.departments),
            (t.c.rule_id, f.rule_ids),
            (t.c.metric, f.metrics),
        ):
            if allowed is not None:
                query = query.where(column.in_(list(allowed)))
        query = query.order_by(*(t.c[name] for name in _KEY))
        return [
            StatsRow(row.day, row.conversation_kind, row.department, row.rule_id, row.metric, int(row.n))
            for row in await self._db.read(rows, query)
        ]


class SqlDistinctUsers(SqlRepository):
    """``DistinctUsers``: a set of keyed hashes per (day, metric, dimension)."""

    async def add(self, day: date, metric: str, dimension: str, user_hash: str) -> None:
        """Record one user (idempotent)."""
        await self.add_many([(day, metric, dimension, user_hash)])

    async def add_many(self, rows: Iterable[tuple[date, str, str, str]]) -> None:
        """Record many (day, metric, dimension, user_hash) in one statement per chunk."""
        values = [
            {"day": d, "metric": m, "dimension": dim, "user_hash": h} for d, m, dim, h in sorted(set(rows))
        ]
        if values:
            await self._db.write_relaxed(_add_users, values)

    async def count(self, since: date, until: date, metric: str, dimension: str | None = None) -> int:
        """Distinct users over the period (all dimensions when ``dimension`` is None)."""
        t = stats_distinct_users
        query = sa.select(sa.func.count(sa.distinct(t.c.user_hash))).where(
            t.c.day >= since, t.c.day <= until, t.c.metric == metric
        )
        if dimension is not None:
            query = query.where(t.c.dimension == dimension)
        return int(await self._db.read(scalar, query))

    async def count_by_dimension(self, since: date, until: date, metric: str) -> dict[str, int]:
        """Distinct users over the period for each dimension."""
        t = stats_distinct_users
        query = (
            sa.select(t.c.dimension, sa.func.count(sa.distinct(t.c.user_hash)).label("users"))
            .where(t.c.day >= since, t.c.day <= until, t.c.metric == metric)
            .group_by(t.c.dimension)
        )
        return {row.dimension: int(row.users) for row in await self._db.read(rows, query)}
