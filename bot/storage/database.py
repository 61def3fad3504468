"""The one ``Database`` object: engine set-up for SQLite and PostgreSQL, migrations, repositories."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.storage.errors import UnsupportedDatabase
from bot.storage.ports import (
    ActivityClaims,
    ConversationStore,
    DistinctUsers,
    JobRuns,
    Nominations,
    NudgeState,
    StatsCounters,
)

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///data/bot.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant works; it only has to be the same in every replica.
MIGRATION_LOCK_KEY = 0x6D61_6562_6173_6869  # "maebashi"
_BEGIN_MODE = "sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Map the usual spellings (``postgres://``, ``sqlite:///``) to the async drivers."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise UnsupportedDatabase("an in-memory SQLite database is not durable; give a file path")
        return parsed.set(drivername="sqlite+aiosqlite")
    raise UnsupportedDatabase(
        f"unsupported DATABASE_URL scheme {parsed.drivername!r}: use sqlite or postgresql"
    )


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """WAL and synchronous=FULL per connection, and our own BEGIN so writes can take the lock first."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below); sqlite3's implicit BEGIN is DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is synced at every commit, so an acknowledged write survives a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN: read-then-write transactions cannot
        # deadlock into SQLITE_BUSY halfway, and concurrent reserves serialise cleanly.
        mode = conn.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Owns the engine; create once per process with ``Database.connect(url)``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._writer = engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})
        # SQLite has one writer at a time anyway; queueing our own writers here is much
        # cheaper than letting them poll SQLite's busy handler. Other processes still wait
        # on the busy timeout.
        self._local_write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        from bot.storage import sql  # the repositories need Database; import late

        self.activity_claims: ActivityClaims = sql.SqlActivityClaims(self)
        self.conversations: ConversationStore = sql.SqlConversationStore(self)
        self.nudges: NudgeState = sql.SqlNudgeState(self)
        self.job_runs: JobRuns = sql.SqlJobRuns(self)
        self.stats: StatsCounters = sql.SqlStatsCounters(self)
        self.distinct_users: DistinctUsers = sql.SqlDistinctUsers(self)
        self.nominations: Nominations = sql.SqlNominations(self)

    @classmethod
    def connect(
        cls, url: str | URL = DEFAULT_DATABASE_URL, *, pool_size: int = 10, echo: bool = False
    ) -> Database:
        """Create the engine (no I/O yet); the SQLite file's directory is created if missing."""
        target = normalize_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "pool_size": pool_size, "max_overflow": pool_size}
        if target.get_backend_name() == "sqlite":
            assert target.database is not None
            Path(target.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_async_engine(target, **kwargs)
        if target.get_backend_name() == "sqlite":
            _install_sqlite_hooks(engine)
        return cls(engine)

    @property
    def url(self) -> URL:
        """The engine URL (password hidden when rendered)."""
        return self.engine.url

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that will write: BEGIN IMMEDIATE on SQLite; commits on exit."""
        if self._local_write_lock is None:
            async with self._writer.begin() as conn:
                yield conn
            return
        async with self._local_write_lock, self._writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (deferred on SQLite, so it never waits for writers)."""
        async with self.engine.connect() as conn:
            yield conn

    async def ping(self) -> bool:
        """True when the database answers a trivial query (for /readyz)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:  # readiness reports, it does not raise
            log.warning("database ping failed", exc_info=True)
            return False

    async def migrate(self) -> None:
        """Apply Alembic migrations up to head; safe when several replicas start at once."""
        from bot.storage.migrate import upgrade_on_connection

        async with self.write() as conn:
            if self.dialect == "postgresql":
                # Held until this transaction ends; the next replica then finds head applied.
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            await conn.run_sync(upgrade_on_connection)

    async def current_revision(self) -> str | None:
        """The applied Alembic revision, or None on an empty database."""
        from bot.storage.migrate import current_on_connection

        async with self.read() as conn:
            return await conn.run_sync(current_on_connection)

    async def close(self) -> None:
        """Close all pooled connections."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
