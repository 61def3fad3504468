"""SQL implementations of the repository protocols in ``bot.storage.ports``."""

from bot.storage.sql.claims import SqlActivityClaims, SqlJobRuns
from bot.storage.sql.conversations import SqlConversationStore
from bot.storage.sql.marks import SqlStatsMarks
from bot.storage.sql.nominations import SqlNominations
from bot.storage.sql.nudges import SqlNudgeState
from bot.storage.sql.stats import SqlDistinctUsers, SqlStatsCounters

__all__ = [
    "SqlActivityClaims",
    "SqlConversationStore",
    "SqlDistinctUsers",
    "SqlJobRuns",
    "SqlNominations",
    "SqlNudgeState",
    "SqlStatsCounters",
    "SqlStatsMarks",
]
