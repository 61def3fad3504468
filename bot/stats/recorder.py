"""Counting on the message path: plain facts in, additive counters out, in batches.

The services call the ``record_*`` methods with facts they already have (no text, no names);
``day`` is the local (Asia/Tokyo) date of the event and ``user_key`` the keyed hash from
``bot.services.userkey``.
Each call only updates dictionaries in memory; ``flush`` (every few seconds from ``start``,
and from ``close`` on a clean stop) writes the batch to storage. A redelivered activity is
counted once, also across replicas: the batch's activity ids are claimed in one statement and
only newly claimed activities are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Protocol

from bot.stats.departments import UNKNOWN_DEPARTMENT
from bot.storage.ports import StatsRow

log = logging.getLogger(__name__)

CLAIM_PREFIX = "stats:"  # the endpoint claims bare activity ids; ours must not collide with them


class Metric(StrEnum):
    """The counters stored per (day, conversation kind, department, rule)."""

    MESSAGES = "messages"
    QUESTIONS = "questions"
    RULE_HITS = "rule_hits"
    NUDGES = "nudges"
    FEEDBACK_HELPFUL = "feedback_helpful"
    FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
    SNOOZES = "snoozes"
    OPT_OUTS = "opt_outs"
    WG_SUBMISSIONS = "wg_submissions"


class DistinctMetric(StrEnum):
    """Sets of keyed user hashes, for the small-group rule ("<5")."""

    SENDERS = "senders"  # dimension: department
    FEEDBACK_USERS = "feedback_users"  # dimension: rule id


# the plain strings, for the per-message path (an enum member's .value is an attribute lookup)
_MESSAGES, _QUESTIONS = Metric.MESSAGES.value, Metric.QUESTIONS.value
_RULE_HITS, _NUDGES = Metric.RULE_HITS.value, Metric.NUDGES.value
_SENDERS = DistinctMetric.SENDERS.value


class ClaimStore(Protocol):
    """The part of ``ActivityClaims`` the recorder needs."""

    async def claim_many(self, keys: Iterable[str]) -> set[str]:
        """Claim a batch; return the keys claimed first by this call."""
        ...


class CounterStore(Protocol):
    """The part of ``StatsCounters`` the recorder needs."""

    async def add(self, rows: Iterable[StatsRow]) -> None:
        """Add the counts to what is stored."""
        ...


class DistinctStore(Protocol):
    """The part of ``DistinctUsers`` the recorder needs."""

    async def add_many(self, rows: Iterable[tuple[date, str, str, str]]) -> None:
        """Record (day, metric, dimension, user hash) rows."""
        ...


_CounterKey = tuple[date, str, str, str, str]  # day, kind, department, rule, metric
_DistinctKey = tuple[date, str, str, str]  # day, metric, dimension, user hash


class _Contribution:
    """What one activity adds; kept apart until the activity is claimed."""

    __slots__ = ("counters", "distinct")

    def __init__(self) -> None:
        self.counters: dict[_CounterKey, int] = defaultdict(int)
        self.distinct: set[_DistinctKey] = set()


class StatsRecorder:
    """Aggregates facts in memory and writes them to storage in batches."""

    def __init__(
        self,
        counters: CounterStore,
        distinct_users: DistinctStore,
        claims: ClaimStore,
        *,
        flush_interval_s: float = 10.0,
        max_pending_activities: int = 20_000,
    ) -> None:
        self._counters = counters
        self._distinct_users = distinct_users
        self._claims = claims
        self.flush_interval_s = flush_interval_s
        self.max_pending_activities = max_pending_activities
        self._pending: dict[str, _Contribution] = {}
        self._unclaimed = _Contribution()  # facts without an activity id (counted as they come)
        # Rows claimed but not yet written (storage failed): retried without claiming again.
        self._claimed_rows: dict[_CounterKey, int] = defaultdict(int)
        self._claimed_distinct: set[_DistinctKey] = set()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._early_flush: asyncio.Task[None] | None = None
        self.flushes = 0
        self.duplicates_dropped = 0

    # ------------------------------------------------------------------ recording (no I/O)
    def record_message(
        self,
        *,
        day: date,
        conversation_kind: str,
        department: str | None,
        user_key: str,
        activity_id: str | None,
        rule_ids: Sequence[str] = (),
        nudged_rule_ids: Sequence[str] = (),
        is_question: bool = False,
    ) -> None:
        """A new message was seen: which rules it hit, which were nudged, whether it asked something."""
        contribution = self._contribution("msg", activity_id)
        if contribution is None:
            return
        dept = department or UNKNOWN_DEPARTMENT
        add = contribution.counters
        add[(day, conversation_kind, dept, "", _MESSAGES)] += 1
        if is_question:
            add[(day, conversation_kind, dept, "", _QUESTIONS)] += 1
        if rule_ids:
            for rule_id in dict.fromkeys(rule_ids):
                add[(day, conversation_kind, dept, rule_id, _RULE_HITS)] += 1
        if nudged_rule_ids:
            for rule_id in dict.fromkeys(nudged_rule_ids):
                add[(day, conversation_kind, dept, rule_id, _NUDGES)] += 1
        contribution.distinct.add((day, _SENDERS, dept, user_key))
        if activity_id:
            self._maybe_flush_early()

    def record_nudge(
        self,
        *,
        day: date,
        conversation_kind: str,
        department: str | None,
        rule_ids: Sequence[str],
        activity_id: str | None,
    ) -> None:
        """A nudge was sent later than ``record_message`` (e.g. after a greeting-only wait)."""
        contribution = self._contribution("nudge", activity_id)
        if contribution is None:
            return
        for rule_id in dict.fromkeys(rule_ids):
            contribution.counters[
                (day, conversation_kind, department or UNKNOWN_DEPARTMENT, rule_id, Metric.NUDGES.value)
            ] += 1
        self._maybe_flush_early()

    def record_feedback(
        self,
        *,
        day: date,
        conversation_kind: str,
        department: str | None,
        rule_ids: Sequence[str],
        helpful: bool,
        user_key: str,
        activity_id: str | None,
    ) -> None:
        """A 役に立った (``helpful``) or 違うと思う click about the nudge's rules."""
        contribution = self._contribution("feedback", activity_id)
        if contribution is None:
            return
        metric = Metric.FEEDBACK_HELPFUL if helpful else Metric.FEEDBACK_NOT_HELPFUL
        for rule_id in dict.fromkeys(rule_ids):
            contribution.counters[
                (day, conversation_kind, department or UNKNOWN_DEPARTMENT, rule_id, metric.value)
            ] += 1
            contribution.distinct.add((day, DistinctMetric.FEEDBACK_USERS.value, rule_id, user_key))
        self._maybe_flush_early()

    def record_snooze(
        self, *, day: date, conversation_kind: str, department: str | None, activity_id: str | None
    ) -> None:
        """A 今日はもう表示しない click."""
        self._count_one(day, conversation_kind, department, "", Metric.SNOOZES, activity_id)

    def record_opt_out(
        self,
        *,
        day: date,
        conversation_kind: str,
        department: str | None,
        rule_id: str,
        activity_id: str | None,
    ) -> None:
        """A このヒントを表示しない click for ``rule_id``."""
        self._count_one(day, conversation_kind, department, rule_id, Metric.OPT_OUTS, activity_id)

    def record_wg_submission(
        self, *, day: date, department: str | None, wg_id: str, activity_id: str | None
    ) -> None:
        """A department submitted (or replaced) its nominees for a WG (``wg_id`` in the rule column)."""
        self._count_one(day, "", department, wg_id, Metric.WG_SUBMISSIONS, activity_id)

    @property
    def pending_activities(self) -> int:
        """Activities counted in memory and not yet written."""
        return len(self._pending)

    def _count_one(
        self,
        day: date,
        conversation_kind: str,
        department: str | None,
        rule_id: str,
        metric: Metric,
        activity_id: str | None,
    ) -> None:
        contribution = self._contribution(metric.value, activity_id)
        if contribution is None:
            return
        contribution.counters[
            (day, conversation_kind, department or UNKNOWN_DEPARTMENT, rule_id, metric.value)
        ] += 1
        self._maybe_flush_early()

    def _contribution(self, fact: str, activity_id: str | None) -> _Contribution | None:
        """Where to add one fact; None for a fact already recorded for this activity (redelivery).

        The key names the fact as well as the activity, so that a message and the nudge sent
        for it later (same activity id) are both counted.
        """
        if not activity_id:
            return self._unclaimed
        key = f"{fact}:{activity_id}"
        if key in self._pending:
            self.duplicates_dropped += 1
            return None
        contribution = self._pending[key] = _Contribution()
        return contribution

    def _maybe_flush_early(self) -> None:
        # A burst must not grow memory without bound; the flush runs as its own task so the
        # caller (the message path) never waits for it.
        if len(self._pending) < self.max_pending_activities:
            return
        if self._early_flush is None or self._early_flush.done():
            with contextlib.suppress(RuntimeError):  # no running loop: the next flush will do
                self._early_flush = asyncio.get_running_loop().create_task(self._flush_quietly())

    # ------------------------------------------------------------------ writing
    async def flush(self) -> int:
        """Write everything recorded so far; returns how many counter rows were written."""
        async with self._flush_lock:
            pending, self._pending = self._pending, {}
            unclaimed, self._unclaimed = self._unclaimed, _Contribution()
            fresh: Iterable[str] = ()
            if pending:
                try:
                    claimed = await self._claims.claim_many(
                        CLAIM_PREFIX + activity_id for activity_id in pending
                    )
                except BaseException:
                    self._restore(pending, unclaimed)
                    raise
                fresh = [a for a in pending if CLAIM_PREFIX + a in claimed]
                self.duplicates_dropped += len(pending) - len(claimed)
            for contribution in [*(pending[a] for a in fresh), unclaimed]:
                for key, n in contribution.counters.items():
                    self._claimed_rows[key] += n
                self._claimed_distinct |= contribution.distinct
            rows = [StatsRow(*key, n) for key, n in self._claimed_rows.items() if n]
            distinct = sorted(self._claimed_distinct)
            if rows:
                await self._counters.add(rows)
                self._claimed_rows = defaultdict(int)
            if distinct:
                await self._distinct_users.add_many(distinct)
                self._claimed_distinct = set()
            self.flushes += 1
            return len(rows)

    def _restore(self, pending: dict[str, _Contribution], unclaimed: _Contribution) -> None:
        """Put a batch back after a failed claim, together with what arrived meanwhile."""
        # A key recorded again meanwhile is the same fact redelivered: keep one of them.
        self._pending.update(pending)
        for key, n in unclaimed.counters.items():
            self._unclaimed.counters[key] += n
        self._unclaimed.distinct |= unclaimed.distinct

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # kept in memory; the next flush tries again
            log.warning("statistics flush failed, will retry: %s", type(exc).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self._flush_quietly()

    def start(self) -> None:
        """Flush every ``flush_interval_s`` seconds in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stats-flush")

    async def close(self) -> None:
        """Stop the background flushes and write what is left (clean shutdown loses nothing)."""
        tasks = [t for t in (self._task, self._early_flush) if t is not None and not t.done()]
        # A flush under way is not cancelled: its write goes on in the database's writer even
        # when the await is cancelled, so the batch would be counted twice or dropped.
        async with self._flush_lock:
            for task in tasks:
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._early_flush = None
        await self.flush()
