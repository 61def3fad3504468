"""Once-only markers: redelivered activities and scheduled job runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa

from bot.storage.models import activity_claims, job_runs
from bot.storage.sql._common import SqlRepository, chunks, insert_for, unique_in_order, utcnow


class SqlActivityClaims(SqlRepository):
    """``ActivityClaims`` on a unique key with ON CONFLICT DO NOTHING."""

    async def claim(self, key: str) -> bool:
        """True only for the first caller (any replica) to claim ``key``."""
        return key in await self.claim_many([key])

    async def claim_many(self, keys: Iterable[str]) -> set[str]:
        """Claim a batch in one statement; return the keys this call claimed first."""
        wanted = unique_in_order(keys)
        if not wanted:
            return set()
        now = utcnow()
        claimed: set[str] = set()
        async with self._db.write() as conn:
            for part in chunks(wanted, 2):
                stmt = (
                    insert_for(self._db, activity_claims)
                    .values([{"key": k, "claimed_at": now} for k in part])
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(activity_claims.c.key)
                )
                claimed.update((await conn.execute(stmt)).scalars())
        return claimed

    async def purge_older_than(self, days: int) -> int:
        """Forget claims older than ``days`` days; return how many were removed."""
        cutoff = utcnow() - timedelta(days=days)
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.delete(activity_claims).where(activity_claims.c.claimed_at < cutoff)
            )
        return result.rowcount or 0


class SqlJobRuns(SqlRepository):
    """``JobRuns``: one row per (job, slot)."""

    async def claim_run(self, job: str, slot: str) -> bool:
        """True only for the first replica to claim this job's ``slot``."""
        stmt = (
            insert_for(self._db, job_runs)
            .values(job=job, slot=slot, claimed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["job", "slot"])
            .returning(job_runs.c.job)
        )
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).first() is not None
