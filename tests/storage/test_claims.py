"""Once-only markers: activities handled once and scheduled jobs run once, across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.storage import Database
from bot.storage.models import activity_claims
from bot.storage.sql import _common


async def test_only_the_first_claim_of_a_key_wins(db: Database) -> None:
    assert await db.activity_claims.claim("a1") is True
    assert await db.activity_claims.claim("a1") is False
    assert await db.activity_claims.claim("a2") is True


async def test_claim_many_returns_only_the_new_keys(db: Database) -> None:
    await db.activity_claims.claim("k2")
    assert await db.activity_claims.claim_many(["k1", "k2", "k3", "k1"]) == {"k1", "k3"}
    assert await db.activity_claims.claim_many(["k1", "k2", "k3"]) == set()
    assert await db.activity_claims.claim_many([]) == set()


async def test_claim_many_handles_batches_larger_than_one_statement(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common, "MAX_PARAMS_PER_STATEMENT", 100)  # 50 keys per statement
    keys = [f"bulk-{i}" for i in range(1_000)]
    assert await db.activity_claims.claim_many(keys) == set(keys)
    assert await db.activity_claims.claim_many([*keys[-5:], "new"]) == {"new"}


async def test_concurrent_claims_on_two_replicas_have_exactly_one_winner(
    db: Database, replica: Database
) -> None:
    attempts = [(db if i % 2 else replica).activity_claims.claim("redelivered") for i in range(40)]
    results = await asyncio.gather(*attempts)
    assert results.count(True) == 1


async def test_concurrent_overlapping_batches_split_the_keys_without_overlap(
    db: Database, replica: Database
) -> None:
    keys = [f"m{i}" for i in range(200)]
    batches = [keys[i : i + 60] for i in range(0, 200, 20)]
    won = await asyncio.gather(
        *((db if i % 2 else replica).activity_claims.claim_many(b) for i, b in enumerate(batches))
    )
    assert sum(len(w) for w in won) == len(keys)
    assert set().union(*won) == set(keys)


async def test_purge_forgets_only_old_claims(db: Database) -> None:
    await db.activity_claims.claim_many(["old", "new"])
    make_old = (
        sa.update(activity_claims)
        .where(activity_claims.c.key == "old")
        .values(claimed_at=datetime.now(UTC) - timedelta(days=10))
    )
    await db.write(lambda conn: conn.execute(make_old))
    assert await db.activity_claims.purge_older_than(7) == 1
    assert await db.activity_claims.claim("old") is True
    assert await db.activity_claims.claim("new") is False


async def test_a_job_slot_runs_once_across_replicas(db: Database, replica: Database) -> None:
    results = await asyncio.gather(
        *((db if i % 2 else replica).job_runs.claim_run("weekly-digest", "2026-W48") for i in range(20))
    )
    assert results.count(True) == 1
    assert await db.job_runs.claim_run("weekly-digest", "2026-W49") is True
    assert await db.job_runs.claim_run("purge", "2026-W48") is True
