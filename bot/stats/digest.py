"""The weekly digest: built from the trends, posted once per week across all replicas.

Each replica checks every minute whether a scheduled slot has passed. The most recent passed
slot is claimed through ``JobRuns.claim_run("weekly-digest", "2026-W48")``: one replica wins and
sends, the others (and a restart) find it taken. A slot missed while the app was down is sent
once when it comes back, as long as it is still the latest one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.domain import ConversationRef, Delivery, Outgoing
from bot.ports import OutboundSender, SendResult
from bot.stats.chart_png import bar_chart_png, png_data_uri
from bot.stats.queries import (
    Figure,
    StatsQueries,
    TrendFilter,
    TrendReport,
    iso_week_label,
)
from cards.digest import DigestMetric, DigestRuleLine, DigestView, Tone, digest_card

log = logging.getLogger(__name__)

JOB_NAME = "weekly-digest"
_WEEKDAYS = "月火水木金土日"


class JobClaims(Protocol):
    """The part of ``JobRuns`` the job needs."""

    async def claim_run(self, job: str, slot: str) -> bool:
        """True only for the first replica to claim the slot."""
        ...


class ConversationLookup(Protocol):
    """The part of ``ConversationStore`` the job needs."""

    async def get(self, conversation_id: str) -> ConversationRef | None:
        """A stored reference by conversation id."""
        ...

    async def list_by_kind(
        self, kind: Any, *, tenant_id: str | None = None, team_id: str | None = None
    ) -> list[ConversationRef]:
        """Stored references of one kind."""
        ...


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When the digest goes out: a weekday (0 = Monday) and a local time in a time zone."""

    weekday: int = 0
    at: time = time(9, 0)
    timezone: str = "Asia/Tokyo"

    def latest_slot(self, now: datetime) -> datetime:
        """The most recent scheduled instant at or before ``now`` (aware, in the schedule's zone)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        days_back = (local.weekday() - self.weekday) % 7
        candidate = datetime.combine(local.date() - timedelta(days=days_back), self.at, tzinfo=zone)
        if candidate > local:
            candidate -= timedelta(days=7)
        return candidate

    @staticmethod
    def slot_id(slot: datetime) -> str:
        """The ISO week of the slot, e.g. "2026-W48" (the claim key)."""
        return iso_week_label(slot.date())


def _period_text(since: date, until: date) -> str:
    def one(d: date) -> str:
        return f"{d.month}月{d.day}日({_WEEKDAYS[d.weekday()]})"

    return f"{one(since)}〜{one(until)}"


def _change(latest: Figure, previous: Figure, *, lower_is_better: bool | None, unit: str) -> tuple[str, Tone]:
    if latest.suppressed or previous.suppressed or latest.value is None or previous.value is None:
        return "", "neutral"
    delta = round(latest.value - previous.value, 1)
    if delta == 0:
        return "先週と同じ", "neutral"
    amount = Figure(abs(delta)).display()
    words = f"先週より {amount}{unit} {'増' if delta > 0 else '減'}"
    if lower_is_better is None:
        return words, "neutral"
    good = (delta < 0) == lower_is_better
    return words, "good" if good else "bad"


# (series key, label, unit shown after the value, lower is better?)
_DIGEST_SERIES: tuple[tuple[str, str, str, bool | None], ...] = (
    ("ack_per_100", "「承知しました」等の書き込み（100件あたり）", "件", True),
    ("greeting_per_100", "定形挨拶（100件あたり）", "件", True),
    ("phone_requests", "電話の依頼", "件", True),
    ("questions_channel", "チャネルでの質問", "件", False),
    ("questions_personal", "1対1チャットでの質問", "件", True),
)


def digest_view(
    report: TrendReport,
    *,
    week_label: str,
    dashboard_url: str | None = None,
    rule_titles: Mapping[str, str],
) -> DigestView:
    """Turn a weekly report (last bucket = the digest's week) into the card's view.

    ``rule_titles`` are the loaded rules' short names: the digest lists those rules only (a rule
    no longer loaded is not worth a line in this week's digest).
    """
    metrics = []
    weeks = len(report.buckets)
    for key, label, unit, lower_is_better in _DIGEST_SERIES:
        values = report.series[key]
        latest = values[-1] if values else Figure(None)
        previous = values[-2] if len(values) > 1 else Figure(None)
        change, tone = _change(latest, previous, lower_is_better=lower_is_better, unit=unit)
        chart = bar_chart_png([None if f.suppressed else f.value for f in values])
        metrics.append(
            DigestMetric(
                label=label,
                value=latest.display()
                if latest.suppressed or latest.value is None
                else f"{latest.display()} {unit}",
                change=change,
                tone=tone,
                chart_url=png_data_uri(chart),
                chart_alt=f"{label}の直近{weeks}週の推移",
            )
        )
    rules = tuple(
        DigestRuleLine(
            rule_label=r.title,
            helpful_ratio=r.helpful_ratio.display() + ("%" if r.helpful_ratio.value is not None else ""),
            nudges=r.nudges.display(),
        )
        for r in report.rule_feedback
        if r.rule_id in rule_titles
    )
    last = report.buckets[-1]
    return DigestView(
        week_label=week_label,
        period_text=_period_text(last.start, last.end),
        metrics=tuple(metrics),
        rules=rules,
        dashboard_url=dashboard_url,
        weeks_shown=weeks,
    )


class WeeklyDigestJob:
    """Posts the digest card to one channel once per scheduled slot, across all replicas."""

    def __init__(
        self,
        *,
        queries: StatsQueries,
        job_runs: JobClaims,
        conversations: ConversationLookup,
        sender: OutboundSender,
        channel_id: str,
        schedule: DigestSchedule = DigestSchedule(),
        weeks: int = 8,
        dashboard_url: str | None = None,
        check_interval_s: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._queries = queries
        self._job_runs = job_runs
        self._conversations = conversations
        self._sender = sender
        self.channel_id = channel_id
        self.schedule = schedule
        self.weeks = weeks
        self.dashboard_url = dashboard_url
        self.check_interval_s = check_interval_s
        self._clock = clock or (lambda: datetime.now(ZoneInfo(schedule.timezone)))
        self._done_slot: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent: list[SendResult] = []

    async def build_card(self, slot: datetime) -> dict[str, Any]:
        """The digest card for the week before ``slot``."""
        week_end = slot.date() - timedelta(days=1)
        week_end -= timedelta(days=(week_end.weekday() - 6) % 7)  # the Sunday on or before
        since = week_end - timedelta(days=7 * self.weeks - 1)
        report = await self._queries.report(TrendFilter(since, week_end, granularity="week"))
        view = digest_view(
            report,
            week_label=iso_week_label(week_end),
            dashboard_url=self.dashboard_url,
            rule_titles=self._queries.rule_titles(),
        )
        return digest_card(view)

    async def run_due(self) -> SendResult | None:
        """Send the latest passed slot if no replica has; returns the send result when this one did."""
        slot = self.schedule.latest_slot(self._clock())
        slot_id = self.schedule.slot_id(slot)
        if self._done_slot == slot_id:
            return None
        conversation = await self._channel()
        if conversation is None:
            log.warning(
                "weekly digest: channel %s is not known to the bot (install it in the team)", self.channel_id
            )
            return None
        # Built before the claim: a failure here leaves the slot to the next run or replica.
        card = await self.build_card(slot)
        if not await self._job_runs.claim_run(JOB_NAME, slot_id):
            self._done_slot = slot_id
            return None
        self._done_slot = slot_id
        result = await self._sender.send(
            Outgoing(conversation=conversation, card=card, delivery=Delivery.REPLY, tag=f"digest:{slot_id}")
        )
        self.sent.append(result)
        if not result.ok:
            log.error("weekly digest %s could not be posted (status %s)", slot_id, result.status)
        return result

    async def _channel(self) -> ConversationRef | None:
        ref = await self._conversations.get(self.channel_id)
        if ref is None:
            for candidate in await self._conversations.list_by_kind("channel"):
                if candidate.channel_id == self.channel_id:
                    ref = candidate
                    break
        if ref is None:
            return None
        # A new post in the channel, not a reply in whatever thread the reference last saw.
        return replace(ref, conversation_id=ref.channel_id or ref.conversation_id, thread_root_id=None)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # the schedule must survive a bad week; the next check retries
                log.exception("weekly digest check failed")
            await asyncio.sleep(self.check_interval_s)

    def start(self) -> None:
        """Check the schedule every ``check_interval_s`` seconds in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="weekly-digest")

    async def close(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
