"""Database set-up: URLs, SQLite durability settings, migrations (also concurrent), the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.storage import Database, UnsupportedDatabase, normalize_url
from bot.storage.migrate import alembic_config
from bot.storage.models import metadata

from .conftest import PostgresDatabases

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest migration


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///data/bot.db", "sqlite+pysqlite", "data/bot.db"),
        ("sqlite:////var/lib/bot/bot.db", "sqlite+pysqlite", "/var/lib/bot/bot.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+pysqlite", "x.db"),
        ("postgresql://u:p@db:5432/bot", "postgresql+asyncpg", "bot"),
        ("postgres://u:p@db/bot", "postgresql+asyncpg", "bot"),
        ("postgresql+psycopg://u@db/bot", "postgresql+asyncpg", "bot"),
    ],
)
def test_urls_are_mapped_to_the_async_drivers(given: str, driver: str, database: str) -> None:
    url = normalize_url(given)
    assert (url.drivername, url.database) == (driver, database)


@pytest.mark.parametrize("given", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "oracle://h/db"])
def test_unsupported_urls_are_refused_with_a_reason(given: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        normalize_url(given)


async def test_sqlite_connections_are_durable_and_patient(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'sub' / 'bot.db'}")
    try:
        pragmas = await db.read(
            lambda conn: {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        )
        assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 30000, "foreign_keys": 1}
    finally:
        await db.close()


async def test_ping_answers_true_and_false(database_url: str, tmp_path: Path) -> None:
    db = Database.connect(database_url)
    dead = Database.connect("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        assert await db.ping() is True
        assert await dead.ping() is False
    finally:
        await db.close()
        await dead.close()


async def test_migrate_is_idempotent(db: Database) -> None:
    await db.migrate()
    await db.migrate()
    assert await db.current_revision() == HEAD


def _diff(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_models_match_the_migrations(db: Database) -> None:
    assert await db.read(_diff) == []


async def _two_replicas_migrate(url: str) -> None:
    first, second = Database.connect(url), Database.connect(url)
    try:
        await asyncio.gather(first.migrate(), second.migrate())
        assert await first.current_revision() == HEAD
        assert await second.read(_diff) == []
    finally:
        await first.close()
        await second.close()


async def test_two_replicas_migrating_a_fresh_sqlite_file_at_once(tmp_path: Path) -> None:
    await _two_replicas_migrate(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_two_replicas_migrating_a_fresh_postgres_database_at_once(
    postgres_databases: PostgresDatabases,
) -> None:
    asyncio.run(_two_replicas_migrate(postgres_databases.create()))


def test_two_processes_migrating_at_once_with_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.storage", "upgrade"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert f"revision {HEAD}" in out
    done = subprocess.run(
        [sys.executable, "-m", "bot.storage", "current"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == HEAD


async def test_close_commits_the_writes_already_queued(database_url: str) -> None:
    first = Database.connect(database_url)
    pending = [asyncio.ensure_future(first.activity_claims.claim(f"queued-{i}")) for i in range(50)]
    await asyncio.sleep(0)  # let them reach the database layer
    await first.close()
    assert all(await asyncio.gather(*pending))
    second = Database.connect(database_url)
    try:
        assert await second.activity_claims.claim_many(f"queued-{i}" for i in range(50)) == set()
    finally:
        await second.close()


async def test_writes_committed_together_fail_alone(db: Database) -> None:
    """A write that the database refuses (a duplicate key) or that raises is undone alone."""
    from bot.storage.models import activity_claims

    def insert(conn: sa.Connection, key: str) -> str:
        conn.execute(sa.insert(activity_claims).values(key=key, claimed_at=sa.func.current_timestamp()))
        return key

    def insert_then_raise(conn: sa.Connection, key: str) -> str:
        insert(conn, key)
        raise ValueError(key)

    await db.write(insert, "taken")
    writes = [
        db.write(insert, "a"),
        db.write(insert, "taken"),  # IntegrityError from the database
        db.write(insert, "b"),
        db.write(insert_then_raise, "c"),  # raised after its own insert
        db.write(insert, "d"),
    ]
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert results[0::2] == ["a", "b", "d"]
    assert isinstance(results[1], sa.exc.IntegrityError) and isinstance(results[3], ValueError)
    stored = await db.read(lambda conn: sorted(conn.execute(sa.select(activity_claims.c.key)).scalars()))
    assert stored == ["a", "b", "d", "taken"]


class _NotAnException(BaseException):
    """Raised by a write function: not an Exception, like KeyboardInterrupt or SystemExit."""


@pytest.mark.parametrize(
    "raised", [_NotAnException("x"), StopIteration()], ids=["BaseException", "StopIteration"]
)
async def test_a_write_that_raises_anything_fails_alone_and_later_writes_go_on(
    db: Database, raised: BaseException
) -> None:
    """The SQLite writer thread must outlive any job: otherwise every later write would wait forever."""
    from bot.storage.models import activity_claims

    def insert(conn: sa.Connection, key: str) -> str:
        conn.execute(sa.insert(activity_claims).values(key=key, claimed_at=sa.func.current_timestamp()))
        return key

    def insert_then_raise(conn: sa.Connection, key: str) -> str:
        insert(conn, key)
        raise raised

    alone = await asyncio.wait_for(
        asyncio.gather(db.write(insert_then_raise, "alone"), return_exceptions=True), 10
    )
    grouped = await asyncio.wait_for(
        asyncio.gather(
            db.write(insert, "a"),
            db.write(insert_then_raise, "b"),
            db.write(insert, "c"),
            return_exceptions=True,
        ),
        10,
    )
    assert isinstance(alone[0], BaseException) and isinstance(grouped[1], BaseException)
    assert grouped[0::2] == ["a", "c"]
    assert await asyncio.wait_for(db.write(insert, "after"), 10) == "after"
    stored = await db.read(lambda conn: sorted(conn.execute(sa.select(activity_claims.c.key)).scalars()))
    assert stored == ["a", "after", "c"]


async def test_a_closed_database_refuses_writes(database_url: str) -> None:
    db = Database.connect(database_url)
    await db.close()
    with pytest.raises(RuntimeError, match="closed"):
        await db.activity_claims.claim("late")
    with pytest.raises(RuntimeError, match="closed"):
        await db.conversations.get("any")


MESSAGE_PATH_TABLES = [
    "activity_claims",
    "conversations",
    "nudge_user_days",
    "nudge_rule_days",
    "nudge_snoozes",
    "nudge_opt_outs",
    "nudge_feedback",
    "sent_nudges",
    "recent_events",
    "stats_daily",
    "stats_distinct_users",
    "job_runs",
]


@pytest.mark.parametrize("table", MESSAGE_PATH_TABLES)
def test_message_path_tables_have_no_place_for_text_or_names(table: str) -> None:
    columns = {column.name for column in metadata.tables[table].columns}
    assert not columns & {
        "text",
        "body",
        "content",
        "message",
        "name",
        "display_name",
        "user_name",
        "user_id",
    }


async def test_relaxed_writes_land_and_leave_commits_durable(tmp_path: Path) -> None:
    """A relaxed write (no fsync at commit) is stored, and later commits are synced again."""
    db = Database.connect(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        await db.migrate()
        assert await db.activity_claims.claim("relaxed-1")  # relaxed
        assert not await db.activity_claims.claim("relaxed-1")
        levels = await asyncio.gather(
            *(db.write(lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar()) for _ in range(5))
        )
        assert set(levels) == {2}  # FULL
    finally:
        await db.close()


async def test_database_errors_do_not_carry_the_values_written(db: Database) -> None:
    """A failing statement's message goes to logs: it must not hold ids or what people wrote."""
    secret = "秘密の値-0123456789"

    def insert_twice(conn: sa.Connection) -> None:
        for _ in range(2):  # the second insert breaks the primary key
            conn.execute(
                sa.text("INSERT INTO activity_claims (key, claimed_at) VALUES (:key, CURRENT_TIMESTAMP)"),
                {"key": secret},
            )

    with pytest.raises(sa.exc.IntegrityError) as raised:
        await db.write(insert_twice)
    assert secret not in str(raised.value)


@pytest.mark.postgres
async def test_relaxed_writes_on_postgresql_do_not_wait_for_the_wal_and_durable_ones_do(
    postgres_url: str,
) -> None:
    db = Database.connect(postgres_url)
    try:

        def setting(conn: sa.Connection) -> str:
            return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())

        assert await db.write_relaxed(setting) == "off"
        assert await db.write(setting) == "on"
        assert await db.call_relaxed(sa.text("SELECT current_setting('synchronous_commit')"), {}) == "off"
    finally:
        await db.close()


async def test_call_relaxed_is_for_postgresql_only(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with pytest.raises(UnsupportedDatabase):
            await db.call_relaxed(sa.text("SELECT 1"), {})
    finally:
        await db.close()


@pytest.mark.postgres
async def test_after_the_database_drops_every_connection_writes_recover(postgres_url: str) -> None:
    """Durable writes ping first; a relaxed write on a dead connection runs again on a new one."""
    db = Database.connect(postgres_url)
    other = Database.connect(postgres_url)

    def backend(conn: sa.Connection) -> int:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    try:
        await asyncio.gather(*(db.write_relaxed(backend) for _ in range(4)), db.write(backend))
        await other.write(
            lambda conn: conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).all()
        )
        await asyncio.sleep(0.2)
        assert await db.write(backend) > 0  # pinged, replaced, no failure
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await db.write_relaxed(backend) > 0)
            except sa.exc.DBAPIError as error:
                assert error.connection_invalidated
                outcomes.append(False)
        assert outcomes[-2:] == [True, True] and outcomes.count(False) <= 1
        assert outcomes == [True, True, True]  # the dead connection's write ran again on a new one
    finally:
        await db.close()
        await other.close()
