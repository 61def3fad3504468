"""Statistics of the policy's effect: counting on the message path, trends, the weekly digest.

Only counts leave this package: never what people wrote, never a personal datum a rule found,
never a name. Distinct people are counted through keyed hashes (``bot.services.userkey``).
"""

from bot.stats.departments import UNKNOWN_DEPARTMENT, DepartmentResolver
from bot.stats.recorder import Metric, StatsRecorder

__all__ = ["UNKNOWN_DEPARTMENT", "DepartmentResolver", "Metric", "StatsRecorder"]
