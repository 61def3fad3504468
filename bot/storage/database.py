"""The one ``Database`` object: engines for SQLite and PostgreSQL, migrations, repositories.

Repositories write each operation as a plain function of a SQLAlchemy ``Connection`` and hand
it to ``Database.write`` / ``Database.read``, which run it in one transaction:

* PostgreSQL: the asyncio engine (asyncpg); the function runs through ``run_sync``, each
  statement awaiting the network without blocking the event loop.
* SQLite: the sqlite3 engine in worker threads, at most one thread hop per transaction.
  Going through aiosqlite instead costs three or four thread hops per *statement* (cursor,
  execute, fetch, close); a nomination submit took ~35 hops (``bench/bench_storage.py``).
  Writes go through one writer thread (SQLite allows one writer at a time anyway) that
  commits the writes queued at the same moment together (group commit): each runs inside
  its own SAVEPOINT, so one that fails is undone alone, and every caller hears back only
  after the shared COMMIT (and its fsync) returned. Reads use a few threads; WAL lets them
  run beside the writer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

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
    StatsMarks,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite:///data/bot.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_READER_THREADS = 4
SQLITE_MAX_GROUP_COMMIT = 200
RELAXED_POOL_SIZE = 16  # PostgreSQL: relaxed writes under a burst of messages (16 at once)
# Any constant works; it only has to be the same in every replica.
MIGRATION_LOCK_KEY = 0x6D61_6562_6173_6869  # "maebashi"
_BEGIN_MODE = "sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Map the usual spellings to our drivers: ``postgresql+asyncpg`` or ``sqlite`` (sqlite3)."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise UnsupportedDatabase("an in-memory SQLite database is not durable; give a file path")
        return parsed.set(drivername="sqlite+pysqlite")
    raise UnsupportedDatabase(
        f"unsupported DATABASE_URL scheme {parsed.drivername!r}: use sqlite or postgresql"
    )


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL; a process opening a fresh file at the same moment may hold the lock briefly.

    The switch needs an exclusive lock and SQLite answers "database is locked" at once rather than
    waiting on the busy handler, so retry for a while (two replicas starting together).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _install_sqlite_hooks(engine: sa.Engine) -> None:
    """WAL and synchronous=FULL per connection, and our own BEGIN so writes take the lock first."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below); sqlite3's implicit BEGIN is DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        # FULL: the WAL is synced at every commit, so an acknowledged write survives a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN: a read-then-write transaction cannot fail
        # with SQLITE_BUSY halfway, and writers from other processes queue on busy_timeout.
        mode = conn.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@dataclass(slots=True)
class _WriteJob:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    durable: bool = True


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # a Future refuses it (TypeError): the caller would wait forever
        future.set_exception(RuntimeError(f"a write raised {type(value).__name__}"))
    else:
        future.set_exception(value)


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        _settle(future, ok, value)


class _SqliteWriter:
    """One thread that runs write transactions, committing those queued together at once."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._jobs: queue.SimpleQueue[_WriteJob | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, durable: bool = True
    ) -> asyncio.Future[Any]:
        if self._stopped:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put(_WriteJob(loop, future, fn, args, kwargs, durable))
        return future

    def stop(self) -> None:
        """Finish the queued writes, then end the thread (blocking)."""
        self._stopped = True
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < SQLITE_MAX_GROUP_COMMIT:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            # one wake-up of each waiting event loop per group, not one per write
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
            for job, (ok, value) in zip(batch, self._commit(batch), strict=True):
                by_loop.setdefault(job.loop, []).append((job.future, ok, value))
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle_all, settled)
                except RuntimeError:  # the caller's event loop is gone; nobody is waiting
                    log.debug("writes finished after their event loop closed")

    def _commit(self, batch: list[_WriteJob]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        # FULL syncs the WAL at commit (survives power loss); NORMAL, for batches of relaxed
        # writes only, is still atomic and survives a crash of the process, and saves the fsync.
        relaxed = not any(job.durable for job in batch)
        try:
            with self._engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                if relaxed:  # only outside a transaction may the level change
                    raw.execute("PRAGMA synchronous=NORMAL")
                try:
                    with conn.begin():
                        if len(batch) == 1:
                            job = batch[0]
                            outcomes.append((True, job.fn(conn, *job.args, **job.kwargs)))
                        else:
                            for job in batch:
                                outcomes.append(self._run_in_savepoint(conn, raw, job))
                finally:
                    if relaxed:
                        raw.execute("PRAGMA synchronous=FULL")
        except BaseException as error:  # BEGIN or COMMIT failed: nothing of the batch is stored
            # BaseException too: the thread must outlive any job, or every later write would hang
            return [(False, error)] * len(batch)
        return outcomes

    @staticmethod
    def _run_in_savepoint(conn: sa.Connection, raw: Any, job: _WriteJob) -> tuple[bool, Any]:
        """Run one job of a group inside its own SAVEPOINT, undone alone if it fails.

        The SAVEPOINT goes straight to sqlite3 under one fixed name: SQLAlchemy's
        ``begin_nested`` names each one anew (``sa_savepoint_N``) and compiles it every time,
        which added a compilation per job to every large group.
        """
        raw.execute("SAVEPOINT write_job")
        try:
            value = job.fn(conn, *job.args, **job.kwargs)
        except BaseException as error:  # handed to that caller; the others go on
            raw.execute("ROLLBACK TO SAVEPOINT write_job")
            raw.execute("RELEASE SAVEPOINT write_job")
            return False, error
        raw.execute("RELEASE SAVEPOINT write_job")
        return True, value


class Database:
    """Owns the engine; create once per process with ``Database.connect(url)``."""

    def __init__(self, url: URL, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._closed = False
        self._async_engine: AsyncEngine | None = None
        self._relaxed_engine: AsyncEngine | None = None  # PostgreSQL: synchronous_commit off
        self._sync_engine: sa.Engine | None = None
        self._writer: _SqliteWriter | None = None
        self._reader_threads: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            assert url.database is not None
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._sync_engine = sa.create_engine(
                url,
                echo=echo,
                hide_parameters=True,  # error messages must not carry ids or what people wrote
                pool_size=SQLITE_READER_THREADS + 1,
                max_overflow=0,
                pool_reset_on_return=None,  # every use ends in COMMIT or ROLLBACK already
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            )
            _install_sqlite_hooks(self._sync_engine)
            self._writer = _SqliteWriter(self._sync_engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"}))
            self._reader_threads = ThreadPoolExecutor(
                SQLITE_READER_THREADS, thread_name_prefix="sqlite-reader"
            )
        else:
            self._async_engine = create_async_engine(
                url,
                echo=echo,
                hide_parameters=True,  # error messages must not carry ids or what people wrote
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,  # a replica survives a database restart without failing a request
                pool_reset_on_return=None,  # every use ends in COMMIT or ROLLBACK already
            )
            # Relaxed writes get connections of their own, whose sessions do not wait for the WAL
            # flush at commit: a SET LOCAL in each transaction cost a round trip per write. They
            # run on the message path (a nudge's reservation), so the pool holds enough idle
            # connections for a burst (an overflow connection is closed on return, and opening
            # one costs more than the write) and does not ping each one before use: a write that
            # meets a connection dead since a database restart runs once more
            # (_on_relaxed_connection).
            self._relaxed_engine = create_async_engine(
                url,
                echo=echo,
                hide_parameters=True,
                pool_size=RELAXED_POOL_SIZE,
                max_overflow=RELAXED_POOL_SIZE // 2,
                pool_pre_ping=False,
                pool_reset_on_return=None,
                connect_args={"server_settings": {"synchronous_commit": "off"}},
            )
        from bot.storage import sql  # the repositories need Database; import late

        self.activity_claims: ActivityClaims = sql.SqlActivityClaims(self)
        self.conversations: ConversationStore = sql.SqlConversationStore(self)
        self._sql_nudges = sql.SqlNudgeState(self)
        self.nudges: NudgeState = self._sql_nudges
        self.job_runs: JobRuns = sql.SqlJobRuns(self)
        self.stats: StatsCounters = sql.SqlStatsCounters(self)
        self.marks: StatsMarks = sql.SqlStatsMarks(self)
        self.distinct_users: DistinctUsers = sql.SqlDistinctUsers(self)
        self.nominations: Nominations = sql.SqlNominations(self)

    @classmethod
    def connect(
        cls, url: str | URL = DEFAULT_DATABASE_URL, *, pool_size: int = 10, echo: bool = False
    ) -> Database:
        """Create the engine (no I/O yet); the SQLite file's directory is created if missing."""
        return cls(normalize_url(url), pool_size=pool_size, echo=echo)

    def _sync_read(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.connect() as conn:
            return fn(conn, *args, **kwargs)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the database is closed")

    async def write(
        self, fn: Callable[Concatenate[sa.Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(connection, ...)`` in a transaction that commits before this returns.

        On SQLite the transaction is BEGIN IMMEDIATE, so it holds the write lock throughout,
        and ``fn`` may share it with other writes queued at the same moment (inside its own
        SAVEPOINT): ``fn`` must touch the database only through ``connection``.
        """
        self._check_open()
        if self._async_engine is not None:
            async with self._async_engine.begin() as conn:
                return await conn.run_sync(fn, *args, **kwargs)
        assert self._writer is not None
        result: T = await self._writer.submit(fn, args, kwargs)
        return result

    async def write_relaxed(
        self, fn: Callable[Concatenate[sa.Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Like ``write``, for records whose loss in a power failure does no harm (handled-once
        markers, nudge caps, sent-nudge records): atomic and safe when the process is killed,
        but the commit does not wait for the disk (SQLite synchronous=NORMAL, PostgreSQL
        synchronous_commit=off). Never use it for nominations or anything people submitted.
        """
        self._check_open()
        if self._relaxed_engine is not None:
            return await self._on_relaxed_connection(
                lambda conn: conn.run_sync(fn, *args, **kwargs), transaction=True
            )
        assert self._writer is not None
        result: T = await self._writer.submit(fn, args, kwargs, durable=False)
        return result

    async def call_relaxed(self, statement: sa.Executable, parameters: dict[str, Any]) -> Any:
        """PostgreSQL: run one statement that is a whole transaction by itself (a call of a
        database function), relaxed as ``write_relaxed``, in one round trip (no BEGIN, no
        COMMIT); the first column of its first row.
        """
        self._check_open()
        if self._relaxed_engine is None:
            raise UnsupportedDatabase("call_relaxed is for PostgreSQL")

        async def call(conn: AsyncConnection) -> Any:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return (await conn.execute(statement, parameters)).scalar()

        return await self._on_relaxed_connection(call, transaction=False)

    async def _on_relaxed_connection(
        self, work: Callable[[AsyncConnection], Awaitable[T]], *, transaction: bool
    ) -> T:
        """Run ``work`` on a connection of the relaxed pool (in a transaction, or autocommit).

        That pool does not ping a connection before use: one that died with the database
        (a restart) fails at its first statement, before anything was done, and the pool then
        replaces them all; the work runs once more on a fresh connection.
        """
        assert self._relaxed_engine is not None
        for attempt in (1, 2):
            try:
                if transaction:
                    async with self._relaxed_engine.begin() as conn:
                        return await work(conn)
                async with self._relaxed_engine.connect() as conn:
                    return await work(conn)
            except sa.exc.DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    async def read(
        self, fn: Callable[Concatenate[sa.Connection, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(connection, ...)`` in a read transaction (rolled back; never waits for writers)."""
        self._check_open()
        if self._async_engine is not None:
            async with self._async_engine.connect() as conn:
                return await conn.run_sync(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads, partial(self._sync_read, fn, args, kwargs))

    async def ping(self) -> bool:
        """True when the database answers a trivial query (for /readyz)."""
        try:
            await self.read(lambda conn: conn.execute(sa.text("SELECT 1")).scalar_one())
            return True
        except Exception:  # readiness reports, it does not raise
            log.warning("database ping failed", exc_info=True)
            return False

    async def migrate(self) -> None:
        """Apply Alembic migrations up to head; safe when several replicas start at once."""
        from bot.storage.migrate import upgrade_on_connection

        def upgrade(conn: sa.Connection) -> None:
            if conn.dialect.name == "postgresql":
                # Held until this transaction ends; the next replica then finds head applied.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            # On SQLite, BEGIN IMMEDIATE already keeps other processes out until we commit.
            upgrade_on_connection(conn)

        await self.write(upgrade)

    async def current_revision(self) -> str | None:
        """The applied Alembic revision, or None on an empty database."""
        from bot.storage.migrate import current_on_connection

        return await self.read(current_on_connection)

    async def close(self) -> None:
        """Store what is written behind, close all pooled connections, stop the SQLite threads."""
        if not self._closed:
            await self._sql_nudges.settle()
        self._closed = True
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._relaxed_engine is not None:
            await self._relaxed_engine.dispose()
        if self._sync_engine is not None:
            assert self._writer is not None and self._reader_threads is not None
            loop = asyncio.get_running_loop()
            # Queued writes are committed first: the writer drains its queue before it stops.
            await loop.run_in_executor(None, self._writer.stop)
            await loop.run_in_executor(None, self._reader_threads.shutdown)
            self._sync_engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
