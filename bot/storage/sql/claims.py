"""Once-only markers: redelivered activities and scheduled job runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.storage.models import activity_claims, job_runs
from bot.storage.sql._common import (
    SqlRepository,
    per_dialect,
    sqlite_connection,
    sqlite_text_of,
    unique_in_order,
    utcnow,
)

_CLAIM = per_dialect(
    lambda insert: (
        insert(activity_claims)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(activity_claims.c.key)
    )
)
_CLAIM_RUN = per_dialect(
    lambda insert: (
        insert(job_runs).on_conflict_do_nothing(index_elements=["job", "slot"]).returning(job_runs.c.job)
    )
)


_PG_CLAIM_MANY = sa.text(
    "INSERT INTO activity_claims (key, claimed_at) "
    "SELECT key, :now FROM unnest(CAST(:keys AS VARCHAR[])) AS key "
    "ON CONFLICT (key) DO NOTHING RETURNING key"
).bindparams(sa.bindparam("now", type_=activity_claims.c.claimed_at.type))

_SQLITE_CLAIM = "INSERT INTO activity_claims (key, claimed_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"


def claim_once(conn: sa.Connection, key: str, now: datetime) -> bool:
    """Claim ``key`` inside the caller's transaction; True only for the first claim.

    On SQLite straight through sqlite3 (a fixed statement SQLAlchemy would cost several times
    more to run); elsewhere the prepared ON CONFLICT DO NOTHING ... RETURNING.
    """
    raw = sqlite_connection(conn)
    if raw is not None:
        return raw.execute(_SQLITE_CLAIM, (key, sqlite_text_of(now))).rowcount == 1  # type: ignore[no-any-return]
    return conn.execute(_CLAIM[conn.dialect.name], {"key": key, "claimed_at": now}).first() is not None


def _claim_many(conn: sa.Connection, keys: Sequence[str], now: datetime) -> set[str]:
    if conn.dialect.name == "sqlite":
        # one fixed statement per key: a multi-row INSERT of a new length is compiled anew by
        # SQLAlchemy every time, and the statistics flush claims a batch of another length
        return {key for key in keys if claim_once(conn, key, now)}
    # PostgreSQL: one fixed statement over an array, compiled once whatever the batch's length (a
    # multi-row VALUES of a new length was compiled anew by SQLAlchemy, row by row, every flush);
    # sorted, so that two replicas claiming overlapping batches lock the keys in the same order.
    return set(conn.execute(_PG_CLAIM_MANY, {"keys": sorted(keys), "now": now}).scalars())


def _purge(conn: sa.Connection, cutoff: datetime) -> int:
    return conn.execute(sa.delete(activity_claims).where(activity_claims.c.claimed_at < cutoff)).rowcount or 0


def _claim_run(conn: sa.Connection, job: str, slot: str, now: datetime) -> bool:
    params = {"job": job, "slot": slot, "claimed_at": now}
    return conn.execute(_CLAIM_RUN[conn.dialect.name], params).first() is not None


class SqlActivityClaims(SqlRepository):
    """``ActivityClaims`` on a unique key with ON CONFLICT DO NOTHING."""

    async def claim(self, key: str) -> bool:
        """True only for the first caller (any replica) to claim ``key``."""
        return await self._db.write_relaxed(claim_once, key, utcnow())

    async def claim_many(self, keys: Iterable[str]) -> set[str]:
        """Claim a batch in one statement; return the keys this call claimed first."""
        wanted = unique_in_order(keys)
        if not wanted:
            return set()
        return await self._db.write_relaxed(_claim_many, wanted, utcnow())

    async def purge_older_than(self, days: int) -> int:
        """Forget claims older than ``days`` days; return how many were removed."""
        return await self._db.write(_purge, utcnow() - timedelta(days=days))


class SqlJobRuns(SqlRepository):
    """``JobRuns``: one row per (job, slot)."""

    async def claim_run(self, job: str, slot: str) -> bool:
        """True only for the first replica to claim this job's ``slot``."""
        return await self._db.write(_claim_run, job, slot, utcnow())
