"""Storage: SQLAlchemy 2 behind small repository protocols (``ports``), with Alembic migrations.

Create one ``Database`` per process and take the repositories from it::

    db = Database.connect(settings.database_url)  # sqlite[+aiosqlite]:///data/bot.db or postgresql[+asyncpg]://...
    await db.migrate()                              # Alembic upgrade head; safe with several replicas
    if await db.activity_claims.claim(activity_id): ...
    await db.close()

Repositories: ``activity_claims``, ``conversations``, ``nudges``, ``job_runs``, ``stats``,
``distinct_users``, ``nominations`` (protocols in ``bot.storage.ports``, SQL in
``bot.storage.sql``, tables in ``bot.storage.models``). Every call commits before it returns.
Command line: ``python -m bot.storage upgrade|current|ping [--url URL]``.
"""

from bot.storage.database import DEFAULT_DATABASE_URL, Database, normalize_url
from bot.storage.errors import CampaignClosed, NotFound, StorageError, UnsupportedDatabase
from bot.storage.ports import (
    ActivityClaims,
    Application,
    AuditEntry,
    Campaign,
    ConversationStore,
    Department,
    DistinctUsers,
    FeedbackCount,
    JobRuns,
    Nominations,
    Nominee,
    NudgeState,
    SentNudge,
    StatsCounters,
    StatsFilter,
    StatsMarks,
    StatsRow,
    Submission,
    WgStatus,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ActivityClaims",
    "Application",
    "AuditEntry",
    "Campaign",
    "CampaignClosed",
    "ConversationStore",
    "Database",
    "Department",
    "DistinctUsers",
    "FeedbackCount",
    "JobRuns",
    "Nominations",
    "Nominee",
    "NotFound",
    "NudgeState",
    "SentNudge",
    "StatsCounters",
    "StatsFilter",
    "StatsMarks",
    "StatsRow",
    "StorageError",
    "Submission",
    "UnsupportedDatabase",
    "WgStatus",
    "normalize_url",
]
