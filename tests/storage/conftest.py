"""Storage tests run against a SQLite file and a PostgreSQL database made for this session.

PostgreSQL: ``STORAGE_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres)
is the maintenance database used to create and drop ``test_storage_<pid>_<random>``. When it is
unreachable those cases are skipped with the reason, unless ``REQUIRE_POSTGRES=1`` (CI), which
turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.storage import Database
from bot.storage.models import metadata

PG_ADMIN_URL = os.environ.get("STORAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_databases_of_dead_runs() -> None:
    """Drop test databases left by runs that were killed before their teardown."""
    conn = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        for record in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'test_storage_%'"):
            name = record["datname"]
            parts = name.split("_")
            if len(parts) == 4 and parts[2].isdigit() and not _process_alive(int(parts[2])):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database.connect(url)
    try:
        await db.migrate()
    finally:
        await db.close()


class PostgresDatabases:
    """Creates uniquely named databases and drops them all at the end of the session."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.unavailable: str | None = None

    def create(self) -> str:
        if self.unavailable:
            self._give_up(self.unavailable)
        name = f"test_storage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            if not self.names:
                asyncio.run(_drop_databases_of_dead_runs())
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            self.unavailable = (
                f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {error!r}"
            )
            self._give_up(self.unavailable)
        self.names.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    @staticmethod
    def _give_up(reason: str) -> None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)

    def drop_all(self) -> None:
        if self.names:
            asyncio.run(_admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.names)))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """Factory of fresh PostgreSQL databases for this session."""
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    """One migrated PostgreSQL database shared by the session (emptied before each test)."""
    url = postgres_databases.create()
    asyncio.run(_migrate(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "bot.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_url"))


def _empty(conn: sa.Connection) -> None:
    for table in reversed(metadata.sorted_tables):
        conn.execute(sa.delete(table))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The Database under test (the first replica)."""
    database = Database.connect(database_url)
    if database.dialect == "postgresql":
        await database.write(_empty)
    yield database
    await database.close()


@pytest.fixture
async def replica(database_url: str, db: Database) -> AsyncIterator[Database]:
    """A second Database object on the same database: a second replica with its own engine."""
    database = Database.connect(database_url)
    yield database
    await database.close()
