"""Trends that say whether the policy works, read from the daily counters.

Every figure about a group of people (the whole city, a department, the people who rated a
rule) is shown as "<5" when fewer than five distinct people are behind it in that period:
small groups would let a reader point at someone.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, Protocol

from bot.stats.marks import Mark
from bot.stats.recorder import DistinctMetric, Metric
from bot.storage.ports import StatsFilter, StatsRow

MIN_GROUP_SIZE = 5
SUPPRESSED = "<5"
MAX_DAILY_BUCKETS = 92  # beyond this a day-by-day chart is unreadable; weeks are used instead
COMPARISON_WINDOW_DAYS = 28

WRITTEN_ACK = "written-ack"
GREETING = "formulaic-greeting"
PHONE = "chat-before-phone"

Granularity = Literal["day", "week"]

RuleTitles = Callable[[], Mapping[str, str]]
"""The loaded rules' short Japanese names by id (``RuleSet.short_titles`` of the current rules)."""


class CounterSource(Protocol):
    """The part of ``StatsCounters`` the queries read."""

    async def query(self, since: date, until: date, filters: StatsFilter | None = None) -> list[StatsRow]:
        """Stored rows in [since, until]."""
        ...


class DistinctSource(Protocol):
    """The part of ``DistinctUsers`` the queries read."""

    async def count(self, since: date, until: date, metric: str, dimension: str | None = None) -> int:
        """Distinct users over the period."""
        ...

    async def count_by_dimension(self, since: date, until: date, metric: str) -> dict[str, int]:
        """Distinct users over the period, per dimension."""
        ...


class MarkSource(Protocol):
    """Dates an admin marked (a rule change, a campaign)."""

    async def list(self) -> list[Mark]:
        """All marks, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class Series:
    """One trend line: its key, Japanese label and unit."""

    key: str
    label: str
    unit: str


SERIES: tuple[Series, ...] = (
    Series("ack_per_100", "「承知しました」等の書き込み（100件あたり）", "件/100件"),
    Series("greeting_per_100", "定形挨拶（100件あたり）", "件/100件"),
    Series("phone_requests", "電話の依頼", "件"),
    Series("questions_channel", "チャネルでの質問", "件"),
    Series("questions_personal", "1対1チャットでの質問", "件"),
    Series("rule_per_100", "選択したルールの検出（100件あたり）", "件/100件"),
    Series("messages", "メッセージ数", "件"),
)
SERIES_BY_KEY = {s.key: s for s in SERIES}


@dataclass(frozen=True, slots=True)
class Figure:
    """A number, or "<5" when the group behind it is too small, or "–" when there is no data."""

    value: float | None
    suppressed: bool = False

    def display(self, digits: int = 1) -> str:
        """The figure as shown on a card, page or CSV."""
        if self.suppressed:
            return SUPPRESSED
        if self.value is None:
            return "–"
        if float(self.value).is_integer():
            return str(int(self.value))
        return f"{self.value:.{digits}f}"

    def as_json(self) -> float | str | None:
        """Plain JSON: the number, "<5" or null."""
        return SUPPRESSED if self.suppressed else self.value


HIDDEN = Figure(None, suppressed=True)


@dataclass(frozen=True, slots=True)
class TrendFilter:
    """Which period and group a report covers."""

    since: date
    until: date
    department: str | None = None
    rule_id: str | None = None
    granularity: Granularity = "week"

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError("until must not be before since")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One point on the time axis: a day or an ISO week (Monday to Sunday)."""

    start: date
    end: date
    label: str


@dataclass(frozen=True, slots=True)
class RuleFeedback:
    """How a rule's nudges were received: which rules annoy people and need tuning."""

    rule_id: str
    title: str  # the rule's short Japanese name; its id when no loaded rule has that id
    hits: Figure
    nudges: Figure
    helpful: Figure
    not_helpful: Figure
    helpful_ratio: Figure  # percent of ratings that were 役に立った
    opt_outs: Figure


@dataclass(frozen=True, slots=True)
class DepartmentFigures:
    """One department's figures over the whole period."""

    department: str
    messages: Figure
    ack_per_100: Figure
    greeting_per_100: Figure
    phone_requests: Figure
    questions_channel: Figure
    questions_personal: Figure


@dataclass(frozen=True, slots=True)
class MarkComparison:
    """The key rates in equal windows before and after a marked date."""

    mark: Mark
    before: Mapping[str, Figure]
    after: Mapping[str, Figure]
    window_days: int


@dataclass(frozen=True, slots=True)
class TrendReport:
    """Everything the dashboard and the digest show for one filter."""

    filter: TrendFilter
    buckets: list[Bucket]
    series: dict[str, list[Figure]]
    totals: dict[str, Figure]
    rule_feedback: list[RuleFeedback]
    departments: list[DepartmentFigures]
    comparisons: list[MarkComparison] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view for the dashboard's script."""
        return {
            "filter": {
                "since": self.filter.since.isoformat(),
                "until": self.filter.until.isoformat(),
                "department": self.filter.department,
                "rule": self.filter.rule_id,
                "granularity": self.filter.granularity,
            },
            "buckets": [
                {"start": b.start.isoformat(), "end": b.end.isoformat(), "label": b.label}
                for b in self.buckets
            ],
            "series": [
                {
                    "key": s.key,
                    "label": s.label,
                    "unit": s.unit,
                    "values": [f.as_json() for f in self.series[s.key]],
                    "total": self.totals[s.key].as_json(),
                }
                for s in SERIES
            ],
            "rule_feedback": [
                {
                    "rule": r.rule_id,
                    "title": r.title,
                    "hits": r.hits.as_json(),
                    "nudges": r.nudges.as_json(),
                    "helpful": r.helpful.as_json(),
                    "not_helpful": r.not_helpful.as_json(),
                    "helpful_ratio": r.helpful_ratio.as_json(),
                    "opt_outs": r.opt_outs.as_json(),
                }
                for r in self.rule_feedback
            ],
            "departments": [
                {
                    "department": d.department,
                    "messages": d.messages.as_json(),
                    "ack_per_100": d.ack_per_100.as_json(),
                    "greeting_per_100": d.greeting_per_100.as_json(),
                    "phone_requests": d.phone_requests.as_json(),
                    "questions_channel": d.questions_channel.as_json(),
                    "questions_personal": d.questions_personal.as_json(),
                }
                for d in self.departments
            ],
            "comparisons": [
                {
                    "day": c.mark.day.isoformat(),
                    "label": c.mark.label,
                    "window_days": c.window_days,
                    "before": {k: f.as_json() for k, f in c.before.items()},
                    "after": {k: f.as_json() for k, f in c.after.items()},
                }
                for c in self.comparisons
            ],
        }


def buckets_for(since: date, until: date, granularity: Granularity) -> list[Bucket]:
    """The days or ISO weeks covering [since, until] (weeks clipped to the period)."""
    if granularity == "day":
        count = (until - since).days + 1
        return [Bucket(d, d, f"{d.month}/{d.day}") for d in (since + timedelta(days=i) for i in range(count))]
    result = []
    start = since - timedelta(days=since.weekday())
    while start <= until:
        end = start + timedelta(days=6)
        first, last = max(start, since), min(end, until)
        result.append(Bucket(first, last, f"{first.month}/{first.day}〜"))
        start = end + timedelta(days=1)
    return result


def iso_week_label(day: date) -> str:
    """ "2026-W48" for any day of that ISO week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class _Sums:
    """Counter rows summed by (metric, rule, kind) for one slice of rows."""

    def __init__(self, rows: Iterable[StatsRow]) -> None:
        self.by: dict[tuple[str, str, str], int] = defaultdict(int)
        for row in rows:
            self.by[(row.metric, row.rule_id, row.conversation_kind)] += row.n

    def total(self, metric: Metric, rule_id: str | None = None, kind: str | None = None) -> int:
        return sum(
            n
            for (m, r, k), n in self.by.items()
            if m == metric.value and (rule_id is None or r == rule_id) and (kind is None or k == kind)
        )

    def per_100(self, rule_id: str | None) -> float | None:
        messages = self.total(Metric.MESSAGES)
        if not messages:
            return None
        hits = self.total(Metric.RULE_HITS, rule_id)
        return round(hits * 100.0 / messages, 1)

    def key_figures(self, rule_id: str | None) -> dict[str, float | None]:
        messages = self.total(Metric.MESSAGES)
        return {
            "ack_per_100": self.per_100(WRITTEN_ACK),
            "greeting_per_100": self.per_100(GREETING),
            "phone_requests": float(self.total(Metric.RULE_HITS, PHONE)),
            "questions_channel": float(self.total(Metric.QUESTIONS, kind="channel")),
            "questions_personal": float(self.total(Metric.QUESTIONS, kind="personal")),
            "rule_per_100": self.per_100(rule_id),
            "messages": float(messages),
        }


class StatsQueries:
    """Reads trends from the counters, applying the small-group rule to every figure."""

    def __init__(
        self,
        counters: CounterSource,
        distinct_users: DistinctSource,
        marks: MarkSource | None = None,
        *,
        rule_titles: RuleTitles | None = None,
        min_group_size: int = MIN_GROUP_SIZE,
    ) -> None:
        self._counters = counters
        self._distinct = distinct_users
        self._marks = marks
        self._rule_titles = rule_titles
        self.min_group_size = min_group_size

    def rule_titles(self) -> Mapping[str, str]:
        """The loaded rules' short names by id (empty when the queries were given none)."""
        return self._rule_titles() if self._rule_titles is not None else {}

    async def options(self, since: date, until: date) -> tuple[list[str], list[str]]:
        """Departments and rule ids seen in the period, for the filters."""
        rows = await self._counters.query(
            since, until, StatsFilter(metrics=[Metric.MESSAGES.value, Metric.RULE_HITS.value])
        )
        departments = sorted({r.department for r in rows if r.metric == Metric.MESSAGES.value})
        rules = sorted({r.rule_id for r in rows if r.rule_id})
        return departments, rules

    async def senders(self, since: date, until: date, department: str | None = None) -> int:
        """Distinct people who wrote in the period (in a department, or anywhere)."""
        return await self._distinct.count(
            since, until, DistinctMetric.SENDERS.value, None if department is None else _dimension(department)
        )

    async def report(self, wanted: TrendFilter, *, with_breakdowns: bool = True) -> TrendReport:
        """Trends, rule feedback, department figures and before/after comparisons for a filter."""
        granularity: Granularity = wanted.granularity
        if granularity == "day" and (wanted.until - wanted.since).days + 1 > MAX_DAILY_BUCKETS:
            granularity = "week"
        department = None if wanted.department is None else _dimension(wanted.department)
        rows = await self._counters.query(
            wanted.since,
            wanted.until,
            StatsFilter(departments=None if department is None else [department]),
        )
        buckets = buckets_for(wanted.since, wanted.until, granularity)
        by_day: dict[date, list[StatsRow]] = defaultdict(list)
        for row in rows:
            by_day[row.day].append(row)

        series: dict[str, list[Figure]] = {s.key: [] for s in SERIES}
        for bucket in buckets:
            bucket_rows = [r for d, rs in by_day.items() if bucket.start <= d <= bucket.end for r in rs]
            people = await self.senders(bucket.start, bucket.end, department)
            figures = _Sums(bucket_rows).key_figures(wanted.rule_id)
            for key, value in figures.items():
                series[key].append(self._shown(value, people))

        period_ok = await self._group_ok(wanted.since, wanted.until, department)
        totals = {
            key: Figure(value) if period_ok else HIDDEN
            for key, value in _Sums(rows).key_figures(wanted.rule_id).items()
        }
        feedback: list[RuleFeedback] = []
        departments: list[DepartmentFigures] = []
        comparisons: list[MarkComparison] = []
        if with_breakdowns:
            feedback = await self._rule_feedback(wanted, rows, period_ok)
            departments = await self._departments(wanted, department)
            comparisons = await self._comparisons(wanted, department)
        return TrendReport(wanted, buckets, series, totals, feedback, departments, comparisons)

    def _shown(self, value: float | None, people: int) -> Figure:
        """No one: no data ("–"); fewer than five: "<5"; else the value."""
        if people == 0:
            return Figure(None)
        return Figure(value) if people >= self.min_group_size else HIDDEN

    async def _group_ok(self, since: date, until: date, department: str | None) -> bool:
        return await self.senders(since, until, department) >= self.min_group_size

    async def _rule_feedback(
        self, wanted: TrendFilter, rows: Sequence[StatsRow], period_ok: bool
    ) -> list[RuleFeedback]:
        raters = await self._distinct.count_by_dimension(
            wanted.since, wanted.until, DistinctMetric.FEEDBACK_USERS.value
        )
        sums = _Sums(rows)
        rule_ids = sorted({r.rule_id for r in rows if r.rule_id and r.metric != Metric.WG_SUBMISSIONS.value})
        if wanted.rule_id is not None:
            rule_ids = [r for r in rule_ids if r == wanted.rule_id] or [wanted.rule_id]
        titles = self.rule_titles()
        result = []
        for rule_id in rule_ids:
            helpful = sums.total(Metric.FEEDBACK_HELPFUL, rule_id)
            not_helpful = sums.total(Metric.FEEDBACK_NOT_HELPFUL, rule_id)
            rated = helpful + not_helpful
            ratings_ok = period_ok and raters.get(rule_id, 0) >= self.min_group_size

            def shown(value: float | None, ok: bool) -> Figure:
                return Figure(value) if ok else HIDDEN

            result.append(
                RuleFeedback(
                    rule_id=rule_id,
                    title=titles.get(rule_id, rule_id),
                    hits=shown(sums.total(Metric.RULE_HITS, rule_id), period_ok),
                    nudges=shown(sums.total(Metric.NUDGES, rule_id), period_ok),
                    helpful=shown(helpful, ratings_ok),
                    not_helpful=shown(not_helpful, ratings_ok),
                    helpful_ratio=shown(round(helpful * 100.0 / rated, 1) if rated else None, ratings_ok),
                    opt_outs=shown(sums.total(Metric.OPT_OUTS, rule_id), period_ok),
                )
            )
        return result

    async def _departments(self, wanted: TrendFilter, department: str | None) -> list[DepartmentFigures]:
        people = await self._distinct.count_by_dimension(
            wanted.since, wanted.until, DistinctMetric.SENDERS.value
        )
        rows = await self._counters.query(
            wanted.since,
            wanted.until,
            StatsFilter(departments=None if department is None else [department]),
        )
        per_department: dict[str, list[StatsRow]] = defaultdict(list)
        for row in rows:
            if row.metric != Metric.WG_SUBMISSIONS.value:
                per_department[row.department].append(row)
        result = []
        for name in sorted(per_department):
            ok = people.get(name, 0) >= self.min_group_size
            figures = _Sums(per_department[name]).key_figures(wanted.rule_id)

            def shown(key: str, ok: bool = ok, figures: dict[str, float | None] = figures) -> Figure:
                return Figure(figures[key]) if ok else HIDDEN

            result.append(
                DepartmentFigures(
                    department=name,
                    messages=shown("messages"),
                    ack_per_100=shown("ack_per_100"),
                    greeting_per_100=shown("greeting_per_100"),
                    phone_requests=shown("phone_requests"),
                    questions_channel=shown("questions_channel"),
                    questions_personal=shown("questions_personal"),
                )
            )
        return result

    async def _comparisons(self, wanted: TrendFilter, department: str | None) -> list[MarkComparison]:
        if self._marks is None:
            return []
        result = []
        for mark in await self._marks.list():
            if not wanted.since <= mark.day <= wanted.until:
                continue
            window = COMPARISON_WINDOW_DAYS
            before_since, before_until = mark.day - timedelta(days=window), mark.day - timedelta(days=1)
            after_since, after_until = mark.day, mark.day + timedelta(days=window - 1)
            halves = []
            for since, until in ((before_since, before_until), (after_since, after_until)):
                rows = await self._counters.query(
                    since, until, StatsFilter(departments=None if department is None else [department])
                )
                people = await self.senders(since, until, department)
                figures = _Sums(rows).key_figures(wanted.rule_id)
                halves.append({k: self._shown(v, people) for k, v in figures.items()})
            result.append(MarkComparison(mark, halves[0], halves[1], window))
        return result


def _dimension(department: str) -> str:
    """The stored department value (the recorder stores "未設定" for unknown ones)."""
    return department.strip()[:200]


# ---------------------------------------------------------------------- CSV (UTF-8 with BOM)
CsvTable = Literal["trends", "rules", "departments"]


def report_csv(report: TrendReport, table: CsvTable) -> bytes:
    """One table of the report as CSV in UTF-8 with a BOM, so Excel opens it in Japanese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if table == "trends":
        writer.writerow(["期間開始", "期間終了", *(s.label for s in SERIES)])
        for index, bucket in enumerate(report.buckets):
            writer.writerow(
                [
                    bucket.start.isoformat(),
                    bucket.end.isoformat(),
                    *(report.series[s.key][index].display() for s in SERIES),
                ]
            )
    elif table == "rules":
        writer.writerow(
            [
                "ルール",
                "ルール名",
                "検出",
                "ナッジ送信",
                "役に立った",
                "違うと思う",
                "役に立った割合(%)",
                "表示しない設定",
            ]
        )
        for rule in report.rule_feedback:
            writer.writerow(
                [
                    rule.rule_id,
                    rule.title,
                    rule.hits.display(),
                    rule.nudges.display(),
                    rule.helpful.display(),
                    rule.not_helpful.display(),
                    rule.helpful_ratio.display(),
                    rule.opt_outs.display(),
                ]
            )
    else:
        writer.writerow(["所属", *(SERIES_BY_KEY[k].label for k in _DEPARTMENT_COLUMNS)])
        for dept in report.departments:
            writer.writerow([dept.department, *(getattr(dept, k).display() for k in _DEPARTMENT_COLUMNS)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


_DEPARTMENT_COLUMNS = (
    "messages",
    "ack_per_100",
    "greeting_per_100",
    "phone_requests",
    "questions_channel",
    "questions_personal",
)
