"""Storage: SQLAlchemy (async) behind small repository protocols, with Alembic migrations.

Create one ``Database`` per process and take the repositories from it::

    db = Database.connect(settings.database_url)   # sqlite:///data/bot.db or postgresql://...
    await db.migrate()
    if await db.activity_claims.claim(activity_id): ...
    await db.close()
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
    ExportRow,
    FeedbackCount,
    JobRuns,
    Nominations,
    Nominee,
    NudgeState,
    SentNudge,
    StatsCounters,
    StatsFilter,
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
    "ExportRow",
    "FeedbackCount",
    "JobRuns",
    "Nominations",
    "Nominee",
    "NotFound",
    "NudgeState",
    "SentNudge",
    "StatsCounters",
    "StatsFilter",
    "StatsRow",
    "StorageError",
    "Submission",
    "UnsupportedDatabase",
    "WgStatus",
    "normalize_url",
]
