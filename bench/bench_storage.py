"""Storage throughput: repository calls against a bare driver INSERT+COMMIT measured in the same run.

    .venv/bin/python bench/bench_storage.py [--ops 2000] [--concurrency 16] [--postgres URL]

For SQLite (a temporary file, WAL, synchronous=FULL) and PostgreSQL (a temporary database,
skipped when unreachable) it prints operations per second for:
  baseline   one-row INSERT and COMMIT straight through aiosqlite / asyncpg, same durability
  claim      ActivityClaims.claim (redelivery guard, on every incoming activity)
  reserve    NudgeState.reserve (frequency caps)
  stats      StatsCounters.add, batches of 200 rows
  submit     Nominations.submit: 80 departments x N WGs at once (issue 5's target: 200/s on SQLite)
and each figure's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosqlite
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.storage import Database, Department, Nominee


async def run_concurrently(ops: int, concurrency: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Run ``op(0..ops-1)`` with ``concurrency`` workers; return operations per second."""
    counter = iter(range(ops))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ops / (time.perf_counter() - start)


async def sqlite_baseline(path: Path, ops: int, concurrency: int) -> float:
    """Bare aiosqlite: one connection per worker, INSERT + COMMIT, same pragmas as ours."""
    conns = []
    for _ in range(concurrency):
        conn = await aiosqlite.connect(path, timeout=30, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            await conn.execute(f"PRAGMA {pragma}")
        conns.append(conn)
    await conns[0].execute("CREATE TABLE IF NOT EXISTS bare (k TEXT PRIMARY KEY)")
    lock = asyncio.Lock()  # the same in-process writer queue ours uses

    async def op(i: int) -> None:
        conn = conns[i % concurrency]
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO bare VALUES (?) ON CONFLICT DO NOTHING", (f"k{i}",))
            await conn.execute("COMMIT")

    try:
        return await run_concurrently(ops, concurrency, op)
    finally:
        for conn in conns:
            await conn.close()


async def postgres_baseline(dsn: str, ops: int, concurrency: int) -> float:
    """Bare asyncpg pool: one-row INSERT in its own (implicit) transaction."""
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    await pool.execute("CREATE TABLE IF NOT EXISTS bare (k TEXT PRIMARY KEY)")

    async def op(i: int) -> None:
        await pool.execute("INSERT INTO bare VALUES ($1) ON CONFLICT DO NOTHING", f"k{i}")

    try:
        return await run_concurrently(ops, concurrency, op)
    finally:
        await pool.close()


async def repository_figures(url: str, ops: int, concurrency: int) -> dict[str, float]:
    """Operations per second of the repository calls the message path and the forms make."""
    db = Database.connect(url, pool_size=concurrency)
    await db.migrate()
    figures: dict[str, float] = {}
    today = date(2026, 11, 25)
    try:
        figures["claim"] = await run_concurrently(
            ops, concurrency, lambda i: db.activity_claims.claim(f"a{i}")
        )
        figures["reserve"] = await run_concurrently(
            ops,
            concurrency,
            lambda i: db.nudges.reserve(f"user-{i % 500}", ["written-ack", "formulaic-greeting"], today),
        )
        batch = [(today, "channel", f"dept-{d}", "written-ack", "hits", 1) for d in range(200)]
        figures["stats (200-row batches)"] = await run_concurrently(
            max(ops // 20, 10), concurrency, lambda i: db.stats.add(batch)
        )

        departments = [Department(f"d{n:02d}", f"部署{n}", (f"aad-{n}",), sort_order=n) for n in range(80)]
        await db.nominations.upsert_departments(departments)
        wgs = [f"wg-{w}" for w in range(max(1, ops // 80))]
        now = datetime.now(UTC)
        campaign = await db.nominations.create_campaign(
            fiscal_year=2026,
            wg_ids=wgs,
            opens_at=now - timedelta(days=1),
            deadline=now + timedelta(days=1),
            reminder_schedule=[],
            created_by="aad-admin",
        )
        nominee = [Nominee("前橋 花子", "aad-hanako", "主事")]
        pairs = [(d.code, wg) for wg in wgs for d in departments]

        async def submit(i: int) -> None:
            code, wg = pairs[i]
            await db.nominations.submit(
                campaign.id, code, wg, nominee, by="aad-x", idempotency_key=f"{code}/{wg}", now=now
            )

        figures["submit (80 departments)"] = await run_concurrently(len(pairs), 80, submit)
        stored = await db.nominations.list_submissions(campaign.id)
        assert len(stored) == len(pairs), f"lost or duplicated submissions: {len(stored)} != {len(pairs)}"
    finally:
        await db.close()
    return figures


def report(name: str, baseline: float, figures: dict[str, float]) -> None:
    print(f"\n{name}")
    print(f"  {'baseline (bare INSERT+COMMIT)':32s} {baseline:9.0f} ops/s")
    for label, value in figures.items():
        print(f"  {label:32s} {value:9.0f} ops/s   ratio {value / baseline:5.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        baseline = await sqlite_baseline(Path(tmp) / "bare.db", args.ops, args.concurrency)
        figures = await repository_figures(f"sqlite:///{tmp}/bench.db", args.ops, args.concurrency)
        report("SQLite (WAL, synchronous=FULL)", baseline, figures)

    name = f"bench_storage_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(args.postgres, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"\nPostgreSQL skipped: {error!r}")
        return
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        baseline = await postgres_baseline(dsn, args.ops, args.concurrency)
        figures = await repository_figures(dsn, args.ops, args.concurrency)
        report("PostgreSQL", baseline, figures)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
