"""Repository interfaces the services depend on; ``bot.storage.sql`` implements them.

Every method is async and commits before it returns: an acknowledged call is on disk.
Users are identified by a keyed hash (``user_key``) wherever the services do not need the
Entra id to address someone; message text is never given to storage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from bot.domain import ConversationKind, ConversationRef

# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentNudge:
    """A nudge card that was sent for one message, kept so that an edit can withdraw it."""

    nudge_id: str
    conversation_id: str
    message_activity_id: str
    user_key: str
    rule_ids: tuple[str, ...]
    sent_activity_id: str | None
    delivered_via: str
    sent_at: datetime
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedbackCount:
    """How people rated one rule's nudges."""

    rule_id: str
    helpful: int
    not_helpful: int


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One additive daily counter. Empty strings stand for "not applicable"."""

    day: date
    conversation_kind: str
    department: str
    rule_id: str
    metric: str
    n: int


@dataclass(frozen=True, slots=True)
class StatsFilter:
    """Restricts a statistics query; ``None`` means no restriction on that column."""

    conversation_kinds: Collection[str] | None = None
    departments: Collection[str] | None = None
    rule_ids: Collection[str] | None = None
    metrics: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class Department:
    """A city department and the people (Entra object ids) who answer for it."""

    code: str
    name: str
    contacts: tuple[str, ...] = ()
    active: bool = True
    sort_order: int = 0


CampaignStatus = Literal["open", "closed"]
EntryStatus = Literal["submitted", "withdrawn"]


@dataclass(frozen=True, slots=True)
class Campaign:
    """One yearly nomination round.

    ``wg_departments`` snapshots, per WG, the departments expected to nominate (from the
    catalogue when the campaign starts); a WG missing from it expects every active
    department, an empty list expects none (open-application WGs).
    """

    id: str
    fiscal_year: int
    wg_ids: tuple[str, ...]
    opens_at: datetime
    deadline: datetime
    reminder_schedule: tuple[datetime, ...]
    status: CampaignStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    wg_departments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Nominee:
    """A person a department puts forward for a WG (business data, submitted on purpose)."""

    name: str
    aad_id: str
    position: str = ""
    continuing: bool = False  # 継続 (True) or new
    note: str = ""


@dataclass(frozen=True, slots=True)
class Submission:
    """A department's nominees for one WG in one campaign."""

    id: str
    campaign_id: str
    department_code: str
    wg_id: str
    nominees: tuple[Nominee, ...]
    status: EntryStatus
    version: int
    submitted_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Application:
    """An open application by one person in one campaign."""

    id: str
    campaign_id: str
    applicant_aad_id: str
    applicant_name: str
    department_code: str | None
    wg_id: str
    themes: tuple[str, ...]
    motivation: str
    supervisor_agreed: bool
    status: EntryStatus
    version: int
    created_at: datetime
    updated_at: datetime
    position: str = ""  # 職名 ("" for applications stored before it was kept)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who changed what in a campaign, and the record before and after."""

    id: int
    campaign_id: str
    entity: str  # "campaign" | "submission" | "application"
    entity_id: str
    action: str  # "create", "extend", "close", "submit", "edit", "withdraw"
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class WgStatus:
    """Per WG: who has submitted (active submissions) and who has not."""

    wg_id: str
    submitted: tuple[str, ...]  # department codes
    missing: tuple[str, ...]
    applications: int  # active open applications for this WG


# -- repositories -----------------------------------------------------------------------------


class ActivityClaims(Protocol):
    """Handle-once markers for redelivered activities, shared by all replicas."""

    async def claim(self, key: str) -> bool:
        """True only for the first caller (any replica) to claim ``key``."""
        ...

    async def claim_many(self, keys: Iterable[str]) -> set[str]:
        """Claim a batch in one statement; return the keys this call claimed first."""
        ...

    async def purge_older_than(self, days: int) -> int:
        """Forget claims older than ``days`` days; return how many were removed."""
        ...


class ConversationStore(Protocol):
    """Conversation references (addressing data only) for proactive messages."""

    async def remember(self, ref: ConversationRef, *, user_aad_id: str | None = None) -> None:
        """Insert or update a reference; a missing ``user_aad_id`` keeps the stored one."""
        ...

    async def get(self, conversation_id: str) -> ConversationRef | None:
        """The stored reference, or None."""
        ...

    async def personal_for_user(self, aad_id: str) -> ConversationRef | None:
        """The user's 1:1 chat with the bot (most recently seen), or None."""
        ...

    async def list_by_kind(
        self, kind: ConversationKind, *, tenant_id: str | None = None, team_id: str | None = None
    ) -> list[ConversationRef]:
        """All stored references of one kind, optionally within a tenant or team."""
        ...

    async def forget(self, conversation_id: str) -> bool:
        """Remove a reference (the bot was uninstalled); True if there was one."""
        ...


class NudgeState(Protocol):
    """Per-user nudge caps, snoozes, opt-outs, feedback and sent-nudge records.

    ``user_key`` is always a keyed hash of the user id, never the id itself.
    """

    async def reserve(
        self,
        user_key: str,
        rule_ids: Sequence[str],
        day: date,
        *,
        per_rule_cap: int = 1,
        overall_cap: int = 3,
        once_key: str | None = None,
    ) -> list[str]:
        """Atomically pick the rules that may still nudge this user on ``day`` and count them.

        Rules are taken in the given order; opted-out rules are skipped and a user snoozed on
        ``day`` gets none. Holds across concurrent callers and replicas. With ``once_key`` the
        key is claimed (as ``ActivityClaims.claim`` does) in the same transaction, and a key
        claimed before gets no rules: a redelivered message is nudged once, in one write.
        """
        ...

    async def release(self, user_key: str, rule_ids: Sequence[str], day: date) -> None:
        """Give back a reservation whose nudge could not be sent."""
        ...

    async def snooze_until(self, user_key: str, until: date) -> None:
        """No nudges for this user up to and including ``until``."""
        ...

    async def unsnooze(self, user_key: str) -> None:
        """Lift the user's snooze."""
        ...

    async def snoozed(self, user_key: str, today: date) -> bool:
        """Whether the user is snoozed on ``today``."""
        ...

    async def snoozed_until(self, user_key: str) -> date | None:
        """The last snoozed day, or None (for the 設定 card)."""
        ...

    async def opt_out(self, user_key: str, rule_id: str) -> None:
        """Stop nudging this user about ``rule_id``."""
        ...

    async def opt_in(self, user_key: str, rule_id: str) -> None:
        """Undo an opt-out."""
        ...

    async def opted_out(self, user_key: str) -> set[str]:
        """Rule ids the user opted out of."""
        ...

    async def record_feedback(
        self, rule_id: str, helpful: bool, day: date, user_key: str, nudge_id: str
    ) -> bool:
        """Store a 役に立った / 違うと思う click once per (nudge, user, rule); True if new."""
        ...

    async def feedback_counts(self, since: date, until: date | None = None) -> list[FeedbackCount]:
        """Feedback per rule for days in [since, until]."""
        ...

    async def record_sent_nudge(
        self,
        nudge_id: str,
        message_activity_id: str,
        conversation_id: str,
        user_key: str,
        rule_ids: Sequence[str],
        sent_activity_id: str | None,
        delivered_via: str,
        at: datetime,
    ) -> None:
        """Remember where a nudge went (idempotent per ``nudge_id``)."""
        ...

    async def find_nudge_for_message(
        self, conversation_id: str, message_activity_id: str
    ) -> SentNudge | None:
        """The latest nudge sent about a message, withdrawn or not."""
        ...

    async def get_sent_nudge(self, nudge_id: str) -> SentNudge | None:
        """A sent nudge by id."""
        ...

    async def mark_withdrawn(self, nudge_id: str, at: datetime | None = None) -> bool:
        """Mark a nudge withdrawn; True only for the first caller (so one replica acts)."""
        ...

    async def record_event(self, user_key: str, conversation_id: str, kind: str, at: datetime) -> None:
        """Remember the latest time of a small per-user event (e.g. a greeting-only message)."""
        ...

    async def last_event(self, user_key: str, conversation_id: str, kind: str) -> datetime | None:
        """When the event was last recorded, or None."""
        ...

    async def record_greeting_only(self, user_key: str, conversation_id: str, at: datetime) -> None:
        """The user just sent a message that was only a greeting."""
        ...

    async def last_greeting_only(self, user_key: str, conversation_id: str) -> datetime | None:
        """When the user last sent a greeting-only message here, or None."""
        ...

    async def purge_older_than(self, days: int) -> int:
        """Drop counters, sent-nudge records and events older than ``days``; feedback stays."""
        ...


class JobRuns(Protocol):
    """Once-only scheduled jobs across replicas."""

    async def claim_run(self, job: str, slot: str) -> bool:
        """True only for the first replica to claim this job's ``slot`` (e.g. "2026-W48")."""
        ...


class StatsCounters(Protocol):
    """Additive daily counters; no text, no names."""

    async def add(self, rows: Iterable[StatsRow | tuple[date, str, str, str, str, int]]) -> None:
        """Add the counts to what is stored (batched upsert in one transaction)."""
        ...

    async def query(self, since: date, until: date, filters: StatsFilter | None = None) -> list[StatsRow]:
        """Stored rows with ``since <= day <= until`` matching the filters, ordered by day."""
        ...


class DistinctUsers(Protocol):
    """Sets of keyed user hashes per day, metric and dimension, to count distinct users."""

    async def add(self, day: date, metric: str, dimension: str, user_hash: str) -> None:
        """Record one user (idempotent)."""
        ...

    async def add_many(self, rows: Iterable[tuple[date, str, str, str]]) -> None:
        """Record many (day, metric, dimension, user_hash) in one statement per chunk."""
        ...

    async def count(self, since: date, until: date, metric: str, dimension: str | None = None) -> int:
        """Distinct users over the period (all dimensions when ``dimension`` is None)."""
        ...

    async def count_by_dimension(self, since: date, until: date, metric: str) -> dict[str, int]:
        """Distinct users over the period for each dimension."""
        ...


class StatsMarks(Protocol):
    """Dates marked on the dashboard, shared by every replica."""

    async def list_marks(self) -> list[tuple[date, str]]:
        """Every (day, label), oldest first."""
        ...

    async def put_mark(self, day: date, label: str, *, max_marks: int) -> bool:
        """Store the mark of ``day`` (replacing one on that day); False when ``max_marks`` other
        days are marked already (checked in the same transaction, so replicas cannot pass it)."""
        ...

    async def delete_mark(self, day: date) -> bool:
        """Remove the mark of ``day``; True if there was one."""
        ...


class Nominations(Protocol):
    """The WG nomination campaigns: departments, campaigns, submissions, audit, reminders."""

    async def upsert_departments(self, departments: Iterable[Department]) -> None:
        """Insert or replace departments by code."""
        ...

    async def list_departments(self, *, active_only: bool = True) -> list[Department]:
        """Departments in sort order."""
        ...

    async def get_department(self, code: str) -> Department | None:
        """One department, or None."""
        ...

    async def departments_for_contact(self, aad_id: str) -> list[Department]:
        """Departments whose contacts include ``aad_id``."""
        ...

    async def create_campaign(
        self,
        *,
        fiscal_year: int,
        wg_ids: Sequence[str],
        opens_at: datetime,
        deadline: datetime,
        reminder_schedule: Sequence[datetime],
        created_by: str,
        wg_departments: Mapping[str, Sequence[str]] | None = None,
        campaign_id: str | None = None,
    ) -> Campaign:
        """Create an open campaign (audited)."""
        ...

    async def get_campaign(self, campaign_id: str) -> Campaign | None:
        """One campaign, or None."""
        ...

    async def list_campaigns(self, status: CampaignStatus | None = None) -> list[Campaign]:
        """Campaigns, newest first."""
        ...

    async def extend_deadline(self, campaign_id: str, deadline: datetime, *, by: str) -> Campaign:
        """Move the deadline (and reopen a closed campaign), audited."""
        ...

    async def close_campaign(self, campaign_id: str, *, by: str) -> Campaign:
        """Close a campaign, audited."""
        ...

    async def submit(
        self,
        campaign_id: str,
        department_code: str,
        wg_id: str,
        nominees: Sequence[Nominee],
        *,
        by: str,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> tuple[Submission, bool]:
        """Store a department's nominees for a WG; ``created`` is False for a repeated key.

        A repeat of the same key returns the stored submission and changes nothing. A new key
        for a WG the department already submitted replaces the nominees (audited as "edit").
        Raises ``CampaignClosed`` after the deadline and ``NotFound`` for an unknown campaign.
        """
        ...

    async def submit_form(
        self,
        campaign_id: str,
        department_code: str,
        nominees_by_wg: Sequence[tuple[str, Sequence[Nominee]]],
        *,
        by: str,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> list[tuple[Submission, bool]]:
        """Store a department's form, ``(wg_id, nominees)`` per WG, all in one transaction.

        Per WG it does what ``submit`` does with the key ``f"{idempotency_key}:{wg_id}"``, and
        returns ``(submission, created)`` in the given order; if anything raises
        (``CampaignClosed``, ``NotFound``) nothing of the form is stored.
        """
        ...

    async def edit(
        self,
        submission_id: str,
        nominees: Sequence[Nominee],
        *,
        by: str,
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> Submission:
        """Replace the nominees until the deadline (audited)."""
        ...

    async def withdraw_many(
        self, submission_ids: Sequence[str], *, by: str, now: datetime | None = None
    ) -> list[Submission]:
        """Withdraw submissions until the deadline in one transaction, all or none (audited;
        withdrawing a withdrawn one changes nothing).

        Returns them in the given order; ``CampaignClosed`` or ``NotFound`` leaves every one as it was.
        """
        ...

    async def find_submission(self, campaign_id: str, department_code: str, wg_id: str) -> Submission | None:
        """The department's submission for a WG, or None."""
        ...

    async def list_submissions(
        self, campaign_id: str, *, department_code: str | None = None, include_withdrawn: bool = False
    ) -> list[Submission]:
        """Submissions of a campaign."""
        ...

    async def apply(
        self,
        campaign_id: str,
        applicant_aad_id: str,
        *,
        applicant_name: str,
        wg_id: str,
        themes: Sequence[str],
        motivation: str,
        supervisor_agreed: bool,
        department_code: str | None = None,
        position: str = "",
        idempotency_key: str,
        now: datetime | None = None,
    ) -> tuple[Application, bool]:
        """Store (or replace) a person's open application; ``created`` False for a repeated key."""
        ...

    async def withdraw_application(
        self, application_id: str, *, by: str, now: datetime | None = None
    ) -> Application:
        """Withdraw an open application until the deadline (audited)."""
        ...

    async def get_application(self, campaign_id: str, applicant_aad_id: str) -> Application | None:
        """A person's application in a campaign, or None."""
        ...

    async def list_applications(
        self, campaign_id: str, *, include_withdrawn: bool = False
    ) -> list[Application]:
        """Applications of a campaign."""
        ...

    async def audit_trail(self, campaign_id: str, entity_id: str | None = None) -> list[AuditEntry]:
        """Audit entries in the order they happened."""
        ...

    async def status(self, campaign_id: str) -> list[WgStatus]:
        """Per WG of the campaign: departments that submitted and those still missing."""
        ...

    async def claim_reminders(self, campaign_id: str, department_codes: Iterable[str], slot: str) -> set[str]:
        """Claim a slot's reminder for several departments in one transaction; the codes this
        call claimed first (each reminder is claimed once, across replicas: never sent twice)."""
        ...
