"""The WG nomination campaign in Teams: admin commands, form actions, reminders, exports.

The domain (``wg``) validates and the cards (``cards.wg_cards``) draw; this service decides who
may do what, stores through the ``Nominations`` repository (which keeps the audit trail) and
says what to send. Rules worth knowing:

- Admin commands work only in a 1:1 chat and only for admins; others get a polite refusal.
- A department's form may be submitted by its contacts (and by admins) only.
- A submission is stored once per rendered form and content: every form the service draws gets
  a fresh ``form`` nonce in its submit data, and the idempotency key is that nonce (or the
  invoke's activity id) plus a hash of the data, so a double click or a Teams retry stores once
  while a later edit back to earlier values is still stored.
- One person may sit in a WG for one department only: a nomination naming someone another
  department already nominated for the same WG is refused, with the message under the field.
- Reminders: per campaign, per due slot, per department still missing a WG, one card to the
  department's contacts, claimed in the database first, so never twice (restarts, replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

from bot.domain import CardAction, ConversationRef, Delivery, IncomingMessage, InvokeResult, Outgoing, Person
from bot.ports import SendResult
from bot.services.actions import ActionOutcome, ActionRegistry
from bot.services.commands import Command
from bot.storage.errors import CampaignClosed, NotFound
from bot.storage.ports import Application as StoredApplication
from bot.storage.ports import Campaign as StoredCampaign
from bot.storage.ports import ConversationStore, JobRuns, Nominations, Submission
from bot.storage.ports import Department as StoredDepartment
from bot.storage.ports import Nominee as StoredNominee
from cards import verbs
from cards._build import card, heading, jst, open_url, text
from cards.wg_cards import (
    application_receipt_card,
    campaign_status_card,
    nomination_request_card,
    open_application_announcement_card,
    open_application_card,
    reminder_card,
    submission_receipt_card,
    withdrawn_card,
)
from wg.campaign import JST, Campaign, campaign_status, nendo_label
from wg.catalogue import Catalogue, WorkingGroup
from wg.departments import Department, DepartmentDirectory
from wg.export import export_rows, to_csv_bytes, to_xlsx_bytes
from wg.forms import (
    FORM_ERROR,
    FormErrors,
    Nomination,
    Nominee,
    OpenApplication,
    nominee_field,
    parse_application,
    parse_nomination,
)

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx"]
CommandHandler = Callable[[IncomingMessage, Command], Awaitable[Sequence[Outgoing]]]
FORM_NONCE = "form"  # the key of the per-rendering nonce in a form's submit data
START_JOB = "wg.campaign.start"

# -- messages (Japanese, in one place) -----------------------------------------------------------

MSG_ADMIN_ONLY = (
    "この操作は WG 選出の管理者（事務局）だけが行えます。必要な場合は情報政策課にご相談ください。"
)
MSG_PERSONAL_ONLY = "管理者コマンドはボットとの 1:1 チャットで送ってください。"
MSG_NO_CAMPAIGN = "受付中の WG 選出キャンペーンはありません。「キャンペーン開始」で開始できます。"
MSG_UNKNOWN_CAMPAIGN = "この募集は見つかりませんでした。"
MSG_CLOSED = "この募集は締め切られました。変更が必要な場合は事務局（情報政策課）にご連絡ください。"
MSG_NOT_CONTACT = "この所属の推薦は、所属の担当者だけが提出できます。担当者の変更は事務局にご連絡ください。"
MSG_UNKNOWN_DEPARTMENT = "この所属は名簿にありません。事務局にご連絡ください。"
MSG_NO_IDENTITY = "Teams のアカウントを確認できませんでした。Teams アプリからもう一度お試しください。"
MSG_NOTHING_SUBMITTED = "まだ提出されていません。"
MSG_START_USAGE = "使い方：キャンペーン開始 [年度 例 2026] [締切 YYYY-MM-DD]"
MSG_EXTEND_USAGE = "使い方：締切延長 YYYY-MM-DD（締切日の 17:00 までに延長します）"
MSG_EXPORT_UNAVAILABLE = (
    "Teams からのダウンロードは設定されていません。サーバーで "
    "`python -m bot.nominations export --campaign {campaign} --format xlsx --out 推薦一覧.xlsx` を実行してください。"
)


def _duplicate_message(department_name: str) -> str:
    return f"この職員は「{department_name}」から同じWGに推薦済みです。1人は1つの所属からだけ推薦できます。"


# -- configuration and ports ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NominationConfig:
    """How campaigns default and where the service posts."""

    announcement_channel_id: str | None = None
    """Conversation id of the channel where open-application WGs are announced (None: not posted)."""
    deadline_days: int = 14
    """Default deadline: this many days after the start, at ``deadline_hour_jst``."""
    deadline_hour_jst: int = 17
    """A deadline given as a date means this hour (JST) of that day."""
    reminder_days_before: tuple[int, ...] = (3, 1)
    """Reminders this many days before the deadline's date ..."""
    reminder_hour_jst: int = 9
    """... at this hour (JST)."""
    export_base_url: str | None = None
    """Public https base URL of this app, for the one-time export download links (None: CLI only)."""
    export_link_seconds: int = 600
    """How long an export link stays valid."""
    reminder_interval_seconds: float = 60.0
    """How often the background task looks for due reminders."""
    directory_cache_seconds: float = 30.0
    """How long the department directory read from the database is reused."""
    campaign_cache_seconds: float = 2.0
    """How long a campaign read is reused to draw cards (writes re-check it in the database)."""
    nominee_index_seconds: float = 1.0
    """How long the who-is-nominated-where index (duplicate check) is reused."""


class Sender(Protocol):
    """The part of ``bot.ports.OutboundSender`` this service uses."""

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Send now and report how it went."""
        ...

    def enqueue(self, outgoing: Outgoing) -> bool:
        """Queue without waiting; False when the queue is full."""
        ...


class CommandRegistrar(Protocol):
    """What ``register`` needs from ``BotService``."""

    def add_command(self, name: str, handler: CommandHandler) -> None:
        """Register a command handler."""
        ...


@dataclass(frozen=True, slots=True)
class ExportFile:
    """An export ready to hand over: file name, media type and bytes."""

    filename: str
    content_type: str
    data: bytes


MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# -- conversions between storage records and the domain --------------------------------------------


def domain_campaign(stored: StoredCampaign) -> Campaign:
    """The domain view of a stored campaign (what the forms and cards take)."""
    return Campaign(
        id=stored.id,
        fiscal_year=stored.fiscal_year,
        wg_ids=stored.wg_ids,
        opens_at=stored.opens_at,
        deadline=stored.deadline,
        reminders=stored.reminder_schedule,
        state=stored.status,
    )


def stored_nominees(nominees: Sequence[Nominee]) -> list[StoredNominee]:
    """Domain nominees as the repository stores them."""
    return [StoredNominee(n.name, n.aad_object_id, n.position, n.continuing, n.note) for n in nominees]


def nomination_from(submissions: Sequence[Submission], campaign_id: str, department_code: str) -> Nomination:
    """One department's active submissions as one domain Nomination (for prefilling and receipts)."""
    nominees = tuple(
        Nominee(s.wg_id, n.name, n.aad_id, n.position, n.continuing, n.note)
        for s in submissions
        if s.status == "submitted"
        for n in s.nominees
    )
    latest = max(submissions, key=lambda s: s.updated_at)
    return Nomination(campaign_id, department_code, nominees, latest.submitted_by, latest.updated_at)


def application_from(stored: StoredApplication) -> OpenApplication:
    """A stored application as the domain's OpenApplication."""
    return OpenApplication(
        campaign_id=stored.campaign_id,
        wg_id=stored.wg_id,
        applicant_aad_id=stored.applicant_aad_id,
        name=stored.applicant_name,
        department_code=stored.department_code or "",
        position=stored.position,
        themes=stored.themes,
        motivation=stored.motivation,
        supervisor_agreed=stored.supervisor_agreed,
        submitted_at=stored.updated_at,
    )


def fiscal_year_of(moment: datetime) -> int:
    """The Japanese fiscal year (April to March) of a moment, in JST."""
    local = moment.astimezone(JST)
    return local.year if local.month >= 4 else local.year - 1


_DATE = re.compile(r"(\d{4})\s*[-.年\s]\s*(\d{1,2})\s*[-.月\s]\s*(\d{1,2})\s*日?")
_YEAR = re.compile(r"^(?:(\d{4})|(?:令和|r)(\d{1,2}))(?:年度)?$")


def parse_date(text_value: str) -> date | None:
    """A date written as YYYY-MM-DD (also 2026年5月12日, 2026.5.12, 2026 5 12); None if absent or invalid."""
    match = _DATE.search(text_value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What ``キャンペーン開始`` asked for, or why it could not be read."""

    fiscal_year: int | None = None
    deadline: date | None = None
    error: str | None = None


def parse_start_argument(argument: str) -> StartRequest:
    """Read ``[年度] [締切 YYYY-MM-DD]`` from the words after キャンペーン開始."""
    argument = unicodedata.normalize("NFKC", argument).lower()
    deadline = parse_date(argument)
    rest = _DATE.sub(" ", argument).replace("締切", " ").replace("締め切り", " ")
    year: int | None = None
    for word in rest.split():
        match = _YEAR.match(word)
        if match is None:
            return StartRequest(error=f"「{word}」を読み取れませんでした。{MSG_START_USAGE}")
        year = int(match[1]) if match[1] else int(match[2]) + 2018
    if _DATE.search(argument) and deadline is None:
        return StartRequest(error=f"締切の日付が正しくありません。{MSG_START_USAGE}")
    return StartRequest(year, deadline)


def notice_card(title: str, message: str = "", actions: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A short card with a heading and a sentence (refusals, confirmations)."""
    body = [heading(title)]
    if message:
        body.append(text(message))
    return card(body, list(actions), fallbackText=title)


def _data_hash(data: Mapping[str, Any]) -> str:
    """A stable hash of the submitted values (the verb and the nonce excluded)."""
    clean = {k: v for k, v in data.items() if k not in ("verb", FORM_NONCE)}
    encoded = json.dumps(clean, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def _stamp_form(form: dict[str, Any], submit_verb: str) -> dict[str, Any]:
    """Give the form's submit button a fresh nonce, so each rendering is one idempotency scope."""
    nonce = secrets.token_hex(8)
    for action in form.get("actions", []):
        if action.get("type") == "Action.Execute" and action.get("verb") == submit_verb:
            action["data"] = {**action.get("data", {}), FORM_NONCE: nonce}
    return form


def _action_fingerprint(action: CardAction) -> str:
    """The form rendering (its nonce, else the invoke's activity id) and a hash of the submitted data."""
    nonce = action.data.get(FORM_NONCE)
    origin = nonce if isinstance(nonce, str) and 0 < len(nonce) <= 64 else f"a:{action.activity_id}"
    return f"{origin}:{_data_hash(action.data)}"


def _idempotency_key(scope: str, fingerprint: str) -> str:
    return f"{scope}:{fingerprint}"[:400]


KeyT = TypeVar("KeyT", bound=Hashable)
ResultT = TypeVar("ResultT")


class SingleFlight(Generic[KeyT, ResultT]):
    """Runs one piece of work per key at a time; callers arriving meanwhile share its outcome."""

    def __init__(self) -> None:
        self._pending: dict[KeyT, asyncio.Future[ResultT]] = {}

    async def run(self, key: KeyT, work: Callable[[], Awaitable[ResultT]]) -> ResultT:
        """``await work()``, unless the same key is already under way: then wait for that one."""
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            outcome = await work()
            future.set_result(outcome)
            return outcome
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it, the loop does not log it
            raise
        finally:
            del self._pending[key]


def _text_field(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


# -- the service ---------------------------------------------------------------------------------


class NominationService:
    """Runs WG nomination campaigns: commands, card actions, reminders and exports."""

    def __init__(
        self,
        *,
        nominations: Nominations,
        conversations: ConversationStore,
        catalogue: Catalogue,
        directory: DepartmentDirectory,
        is_admin: Callable[[str | None], bool],
        sender: Sender,
        job_runs: JobRuns | None = None,
        config: NominationConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        admin_ids: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        """``directory`` seeds an empty database (see ``start``); afterwards the database is the directory.

        ``admin_ids`` lists the admins' Entra ids for the status card's automatic refresh.
        """
        self._repo = nominations
        self._conversations = conversations
        self._catalogue = catalogue
        self._seed_directory = directory
        self._is_admin = is_admin
        self._sender = sender
        self._job_runs = job_runs
        self.config = config or NominationConfig()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._admin_ids = admin_ids
        self._directory: DepartmentDirectory | None = None
        self._directory_loaded_at = 0.0
        self._origin: ConversationRef | None = None  # tenant and serviceUrl to open 1:1 chats
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link_signer: Callable[[str, str, str], str] | None = None
        self._campaigns: dict[str, tuple[float, StoredCampaign | None]] = {}
        # campaign id -> (loaded at, (wg, aad id) -> department code); one load at a time
        self._nominee_index: dict[str, tuple[float, dict[tuple[str, str], str]]] = {}
        self._index_loads: SingleFlight[str, dict[tuple[str, str], str]] = SingleFlight()
        # Concurrent duplicates of one submit in this replica (double click, Teams retry) run
        # once: the storage's idempotency keys make duplicates harmless across replicas, this
        # only saves the second write transaction when both copies reach the same process.
        self._submits: SingleFlight[str, ActionOutcome] = SingleFlight()
        # (campaign id, slot) whose reminders this replica has fully run: not looked at again
        self._reminded: set[tuple[str, str]] = set()

    def enable_export_links(self, signer: Callable[[str, str, str], str]) -> None:
        """Let エクスポート answer with download links; ``signer(campaign_id, fmt, admin_id)`` gives a token."""
        self._link_signer = signer

    # -- wiring ------------------------------------------------------------------------------

    def register(self, actions: ActionRegistry, bot: CommandRegistrar) -> None:
        """Register the card verbs and the admin commands."""
        actions.add(verbs.NOMINATION_OPEN, self.nomination_open)
        actions.add(verbs.NOMINATION_SUBMIT, self.nomination_submit)
        actions.add(verbs.NOMINATION_EDIT, self.nomination_edit)
        actions.add(verbs.NOMINATION_WITHDRAW, self.nomination_withdraw)
        actions.add(verbs.APPLICATION_OPEN, self.application_open)
        actions.add(verbs.APPLICATION_SUBMIT, self.application_submit)
        actions.add(verbs.APPLICATION_EDIT, self.application_edit)
        actions.add(verbs.APPLICATION_WITHDRAW, self.application_withdraw)
        actions.add(verbs.CAMPAIGN_STATUS_REFRESH, self.status_refresh)
        commands: dict[str, CommandHandler] = {
            "campaign.start": self._cmd_start,
            "campaign.status": self._cmd_status,
            "campaign.export": self._cmd_export,
            "campaign.extend": self._cmd_extend,
            "campaign.close": self._cmd_close,
            "campaign.remind": self._cmd_remind,
        }
        for name, handler in commands.items():
            bot.add_command(name, self._admin_command(handler))

    async def start(self) -> None:
        """Seed the department table from the configured directory when the database has none."""
        if not await self._repo.list_departments(active_only=False):
            await self._repo.upsert_departments(
                StoredDepartment(d.code, d.name, d.contacts, True, index)
                for index, d in enumerate(self._seed_directory)
            )
            log.info("seeded %d departments into the database", len(self._seed_directory))
        await self.directory(refresh=True)

    async def drain(self) -> None:
        """Wait for the background sends started by commands (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def directory(self, *, refresh: bool = False) -> DepartmentDirectory:
        """The active departments from the database (cached for a few seconds)."""
        loop_now = asyncio.get_running_loop().time()
        stale = loop_now - self._directory_loaded_at > self.config.directory_cache_seconds
        if self._directory is None or refresh or stale:
            stored = await self._repo.list_departments()
            self._directory = DepartmentDirectory(Department(d.code, d.name, d.contacts) for d in stored)
            self._directory_loaded_at = loop_now
        return self._directory

    async def campaign(self, campaign_id: str) -> StoredCampaign | None:
        """A campaign, reused for a moment: many forms arrive together and the campaign rarely changes.

        Only cards are drawn from this; every write re-checks the campaign in its transaction.
        """
        loop_now = asyncio.get_running_loop().time()
        cached = self._campaigns.get(campaign_id)
        if cached is not None and loop_now - cached[0] <= self.config.campaign_cache_seconds:
            return cached[1]
        found = await self._repo.get_campaign(campaign_id)
        if len(self._campaigns) > 100:
            self._campaigns.clear()
        self._campaigns[campaign_id] = (loop_now, found)
        return found

    def _forget_campaign(self, campaign_id: str) -> None:
        self._campaigns.pop(campaign_id, None)

    async def _nominees_by_wg(self, campaign_id: str) -> dict[tuple[str, str], str]:
        """(WG, nominee's Entra id) -> department code over active submissions; one load at a time."""
        cached = self._nominee_index.get(campaign_id)
        loop_now = asyncio.get_running_loop().time()
        if cached is not None and loop_now - cached[0] <= self.config.nominee_index_seconds:
            return cached[1]
        # a load under way is shared instead of reading again
        return await self._index_loads.run(campaign_id, lambda: self._load_nominee_index(campaign_id))

    async def _load_nominee_index(self, campaign_id: str) -> dict[tuple[str, str], str]:
        index: dict[tuple[str, str], str] = {}
        for submission in await self._repo.list_submissions(campaign_id):
            for nominee in submission.nominees:
                index[(submission.wg_id, nominee.aad_id.lower())] = submission.department_code
        self._nominee_index[campaign_id] = (asyncio.get_running_loop().time(), index)
        return index

    def _note_nominees(self, campaign_id: str, department_code: str, nomination: Nomination | None) -> None:
        """Keep this replica's index current with its own writes (others catch up within a second)."""
        cached = self._nominee_index.get(campaign_id)
        if cached is None:
            return
        index = {key: code for key, code in cached[1].items() if code != department_code}
        for nominee in nomination.nominees if nomination else ():
            index[(nominee.wg_id, nominee.aad_object_id.lower())] = department_code
        self._nominee_index[campaign_id] = (cached[0], index)

    # -- helpers -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def is_admin(self, aad_id: str | None) -> bool:
        """Whether this Entra id belongs to a WG admin."""
        return bool(aad_id) and self._is_admin(aad_id)

    async def _current_campaign(self, *, open_only: bool) -> StoredCampaign | None:
        campaigns = await self._repo.list_campaigns("open" if open_only else None)
        return campaigns[0] if campaigns else None

    async def _campaign_for(self, argument: str, *, open_only: bool) -> StoredCampaign | None:
        word = argument.strip().split()[0] if argument.strip() else ""
        if word:
            found = await self._repo.get_campaign(word)
            if found is not None:
                return found
        return await self._current_campaign(open_only=open_only)

    def _deadline_at(self, day: date) -> datetime:
        return datetime.combine(day, time(self.config.deadline_hour_jst), JST).astimezone(UTC)

    def _reminders_for(self, deadline: datetime, opens_at: datetime) -> list[datetime]:
        local_day = deadline.astimezone(JST).date()
        slots = [
            datetime.combine(local_day - timedelta(days=days), time(self.config.reminder_hour_jst), JST)
            for days in self.config.reminder_days_before
        ]
        return sorted(slot.astimezone(UTC) for slot in slots if opens_at < slot < deadline)

    def _personal(self, aad_id: str, form: dict[str, Any], origin: ConversationRef | None) -> Outgoing | None:
        """A card for someone's 1:1 chat with the bot; the sender finds or creates the chat."""
        base = origin or self._origin
        if base is None:
            return None
        # Not kind="personal": the sender would post into that chat itself. The id is blank on
        # purpose; only the tenant and serviceUrl are used to open the person's 1:1 chat.
        address = ConversationRef(
            conversation_id="",
            kind="groupChat",
            service_url=base.service_url,
            tenant_id=base.tenant_id,
            bot_id=base.bot_id,
        )
        return Outgoing(
            conversation=address,
            card=form,
            delivery=Delivery.PERSONAL,
            recipient=Person(teams_id="", aad_object_id=aad_id),
            fallback=(),
        )

    async def _origin_ref(self) -> ConversationRef | None:
        """Where to take tenant and serviceUrl from for 1:1 chats (background tasks)."""
        if self._origin is not None:
            return self._origin
        if self.config.announcement_channel_id:
            channel = await self._conversations.get(self.config.announcement_channel_id)
            if channel is not None:
                return channel
        personal = await self._conversations.list_by_kind("personal")
        return personal[0] if personal else None

    async def _send_all(self, outgoings: Sequence[Outgoing]) -> tuple[int, int]:
        """Send one by one (the sender paces for Teams' limits); (sent, failed)."""
        sent = failed = 0
        for outgoing in outgoings:
            result = await self._sender.send(outgoing)
            if result.ok:
                sent += 1
            else:
                failed += 1
        return sent, failed

    def _wgs_for(self, campaign: Campaign, department: Department) -> list[WorkingGroup]:
        return self._catalogue.for_department(department.name, campaign.wg_ids)

    # -- admin commands ------------------------------------------------------------------------

    def _admin_command(self, handler: CommandHandler) -> CommandHandler:
        async def guarded(message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
            if not self.is_admin(message.sender.aad_object_id):
                log.info("admin command %s refused for a non-admin", command.name)
                return self._answer(message, notice_card("ご利用いただけません", MSG_ADMIN_ONLY))
            if message.conversation.kind != "personal":
                return self._answer(message, notice_card("1:1 チャットでお願いします", MSG_PERSONAL_ONLY))
            self._origin = message.conversation
            return await handler(message, command)

        return guarded

    @staticmethod
    def _answer(message: IncomingMessage, answer: dict[str, Any]) -> list[Outgoing]:
        if message.conversation.kind == "personal":
            return [Outgoing(conversation=message.conversation, card=answer)]
        return [
            Outgoing(
                conversation=message.conversation,
                card=answer,
                delivery=Delivery.TARGETED,
                recipient=message.sender,
                fallback=(Delivery.PERSONAL,),
            )
        ]

    async def _cmd_start(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        request = parse_start_argument(command.argument)
        if request.error:
            return self._answer(message, notice_card("キャンペーンを開始できません", request.error))
        now = self._now()
        year = request.fiscal_year or fiscal_year_of(now)
        if request.deadline is not None:
            deadline = self._deadline_at(request.deadline)
        else:
            deadline = self._deadline_at(
                (now.astimezone(JST) + timedelta(days=self.config.deadline_days)).date()
            )
        if deadline <= now:
            return self._answer(
                message, notice_card("キャンペーンを開始できません", "締切は今日より後の日付にしてください。")
            )
        for existing in await self._repo.list_campaigns("open"):
            if existing.fiscal_year == year:
                return self._answer(
                    message,
                    notice_card(
                        "すでに受付中です",
                        f"{nendo_label(year)}のキャンペーン（{existing.id}）は受付中です。締切 {jst(existing.deadline)}。",
                    ),
                )
        if self._job_runs is not None and not await self._job_runs.claim_run(START_JOB, message.activity_id):
            return []  # a redelivery of a start already handled (by this or another replica)
        directory = await self.directory(refresh=True)
        wg_ids = tuple(wg.id for wg in self._catalogue)
        wg_departments: dict[str, list[str]] = {}
        for wg in self._catalogue:
            if not wg.is_nominated_by_departments:
                wg_departments[wg.id] = []
            elif wg.selection == "related-departments":
                wg_departments[wg.id] = [d.code for d in directory if wg.concerns_department(d.name)]
        campaign_id = await self._free_campaign_id(year)
        stored = await self._repo.create_campaign(
            fiscal_year=year,
            wg_ids=wg_ids,
            opens_at=now,
            deadline=deadline,
            reminder_schedule=self._reminders_for(deadline, now),
            created_by=message.sender.aad_object_id or "",
            wg_departments=wg_departments,
            campaign_id=campaign_id,
        )
        campaign = domain_campaign(stored)
        requests = self._request_cards(campaign, directory, message.conversation)
        announcement = await self._announcement(campaign)
        contacts = sum(1 for _ in requests)
        no_contact = [d.name for d in directory if self._wgs_for(campaign, d) and not d.contacts]
        lines = [
            f"{campaign.title}（{campaign.id}）を開始しました。締切 {jst(campaign.deadline)}。",
            f"依頼カードを {contacts} 名の担当者へ送信しています。",
        ]
        if no_contact:
            lines.append(
                f"担当者が未登録の所属（{len(no_contact)}）：{'、'.join(no_contact[:20])}"
                + ("…" if len(no_contact) > 20 else "")
            )
        if announcement is None and self._catalogue.open_application(campaign.wg_ids):
            lines.append("公募WGの案内を投稿するチャンネルが設定されていないか、ボットが追加されていません。")
        self._spawn(self._deliver_start(requests, announcement, message.conversation))
        reminders = "、".join(jst(r) for r in campaign.reminders) or "なし"
        summary = notice_card(
            "キャンペーンを開始しました", "\n\n".join(lines) + f"\n\nリマインド予定：{reminders}"
        )
        return [Outgoing(conversation=message.conversation, card=summary)]

    async def _free_campaign_id(self, year: int) -> str:
        candidate, n = f"fy{year}", 1
        while await self._repo.get_campaign(candidate) is not None:
            n += 1
            candidate = f"fy{year}-{n}"
        return candidate

    def _request_cards(
        self, campaign: Campaign, directory: DepartmentDirectory, origin: ConversationRef
    ) -> list[Outgoing]:
        outgoings = []
        for department in directory:
            wgs = self._wgs_for(campaign, department)
            if not wgs:
                continue
            for contact in department.contacts:
                form = _stamp_form(
                    nomination_request_card(campaign, department, wgs, catalogue=self._catalogue),
                    verbs.NOMINATION_SUBMIT,
                )
                outgoing = self._personal(contact, form, origin)
                if outgoing is not None:
                    outgoings.append(outgoing)
        return outgoings

    async def _announcement(self, campaign: Campaign) -> Outgoing | None:
        wgs = self._catalogue.open_application(campaign.wg_ids)
        if not wgs or not self.config.announcement_channel_id:
            return None
        channel = await self._conversations.get(self.config.announcement_channel_id)
        if channel is None:
            return None
        return Outgoing(conversation=channel, card=open_application_announcement_card(campaign, wgs))

    async def _deliver_start(
        self, requests: Sequence[Outgoing], announcement: Outgoing | None, admin_chat: ConversationRef
    ) -> None:
        try:
            sent, failed = await self._send_all(requests)
            posted = (await self._sender.send(announcement)).ok if announcement is not None else None
            lines = [f"依頼カードの送信が終わりました：送信 {sent} 件、失敗 {failed} 件。"]
            if posted is not None:
                lines.append(
                    "公募WGの案内をチャンネルに投稿しました。"
                    if posted
                    else "公募WGの案内をチャンネルに投稿できませんでした。"
                )
            await self._sender.send(Outgoing(conversation=admin_chat, text="\n\n".join(lines)))
        except Exception:
            log.exception("sending the campaign's request cards failed")

    async def status_card(self, campaign_id: str) -> dict[str, Any] | None:
        """The admins' status card for a campaign, or None if it does not exist."""
        stored = await self._repo.get_campaign(campaign_id)
        if stored is None:
            return None
        campaign = domain_campaign(stored)
        progress = await self._repo.status(campaign_id)
        submitted = {wg.wg_id: set(wg.submitted) for wg in progress}
        counts = {wg.wg_id: wg.applications for wg in progress}
        status = campaign_status(
            campaign, self._catalogue, await self.directory(), submitted, counts, now=self._now()
        )
        return campaign_status_card(status, list(self._admin_ids()))

    async def _cmd_status(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        stored = await self._campaign_for(command.argument, open_only=False)
        if stored is None:
            return self._answer(message, notice_card("キャンペーンがありません", MSG_NO_CAMPAIGN))
        status = await self.status_card(stored.id)
        assert status is not None
        return [Outgoing(conversation=message.conversation, card=status)]

    async def _cmd_extend(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        day = parse_date(unicodedata.normalize("NFKC", command.argument))
        if day is None:
            return self._answer(message, notice_card("締切を延長できません", MSG_EXTEND_USAGE))
        stored = await self._campaign_for(command.argument, open_only=False)
        if stored is None:
            return self._answer(message, notice_card("キャンペーンがありません", MSG_NO_CAMPAIGN))
        deadline = self._deadline_at(day)
        if deadline <= self._now():
            return self._answer(
                message, notice_card("締切を延長できません", "新しい締切は今より後にしてください。")
            )
        updated = await self._repo.extend_deadline(stored.id, deadline, by=message.sender.aad_object_id or "")
        self._forget_campaign(stored.id)
        return self._answer(
            message,
            notice_card(
                "締切を変更しました",
                f"{domain_campaign(updated).title}（{updated.id}）の締切：{jst(updated.deadline)}",
            ),
        )

    async def _cmd_close(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        stored = await self._campaign_for(command.argument, open_only=True)
        if stored is None or stored.status != "open":
            return self._answer(message, notice_card("キャンペーンがありません", MSG_NO_CAMPAIGN))
        closed = await self._repo.close_campaign(stored.id, by=message.sender.aad_object_id or "")
        self._forget_campaign(stored.id)
        return self._answer(
            message,
            notice_card(
                "受付を終了しました", f"{domain_campaign(closed).title}（{closed.id}）の受付を終了しました。"
            ),
        )

    async def _cmd_remind(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        stored = await self._campaign_for(command.argument, open_only=True)
        if stored is None or stored.status != "open":
            return self._answer(message, notice_card("キャンペーンがありません", MSG_NO_CAMPAIGN))
        # The activity id as the slot: a redelivered command reminds nobody twice.
        departments = await self.remind_now(
            stored.id, slot=f"manual:{message.activity_id}", origin=message.conversation
        )
        return self._answer(
            message,
            notice_card(
                "リマインドを送りました", f"未提出の {departments} 所属の担当者へリマインドを送りました。"
            ),
        )

    async def _cmd_export(self, message: IncomingMessage, command: Command) -> Sequence[Outgoing]:
        stored = await self._campaign_for(command.argument, open_only=False)
        if stored is None:
            return self._answer(message, notice_card("キャンペーンがありません", MSG_NO_CAMPAIGN))
        if not self.config.export_base_url or self._link_signer is None:
            return self._answer(
                message, notice_card("エクスポート", MSG_EXPORT_UNAVAILABLE.format(campaign=stored.id))
            )
        # what the file will hold: every active nominee and application
        people = sum(len(s.nominees) for s in await self._repo.list_submissions(stored.id))
        people += len(await self._repo.list_applications(stored.id))
        by = message.sender.aad_object_id or ""
        base = self.config.export_base_url.rstrip("/")
        links = [
            open_url(f"{label}をダウンロード", f"{base}/exports/{self._link_signer(stored.id, fmt, by)}")
            for fmt, label in (("xlsx", "Excel"), ("csv", "CSV"))
        ]
        minutes = self.config.export_link_seconds // 60
        answer = notice_card(
            "推薦一覧のエクスポート",
            f"{domain_campaign(stored).title}（{stored.id}）：{people} 名分。"
            f"リンクは {minutes} 分間、1 回だけ使えます。",
            links,
        )
        return [Outgoing(conversation=message.conversation, card=answer)]

    async def export_file(self, campaign_id: str, fmt: ExportFormat) -> ExportFile:
        """The campaign's nominations and applications as CSV (UTF-8 with BOM) or XLSX."""
        stored = await self._repo.get_campaign(campaign_id)
        if stored is None:
            raise NotFound("campaign", campaign_id)
        return await export_campaign(self._repo, self._catalogue, stored, fmt)

    # -- department form -----------------------------------------------------------------------

    async def _department_context(
        self, action: CardAction
    ) -> tuple[StoredCampaign, Department] | InvokeResult:
        campaign_id = _text_field(action.data, "campaign_id")
        code = _text_field(action.data, "department_code")
        stored = await self.campaign(campaign_id) if campaign_id else None
        if stored is None:
            return InvokeResult(card=notice_card("募集が見つかりません", MSG_UNKNOWN_CAMPAIGN))
        department = (await self.directory()).get(code) if code else None
        if department is None:
            department = (await self.directory(refresh=True)).get(code) if code else None
        if department is None:
            return InvokeResult(card=notice_card("所属が見つかりません", MSG_UNKNOWN_DEPARTMENT))
        aad = action.sender.aad_object_id
        if not aad:
            return InvokeResult(card=notice_card("確認できませんでした", MSG_NO_IDENTITY))
        if aad.lower() not in {c.lower() for c in department.contacts} and not self.is_admin(aad):
            log.info("a non-contact tried to act for department %s", department.code)
            return InvokeResult(card=notice_card("ご利用いただけません", MSG_NOT_CONTACT))
        return stored, department

    async def _existing_nomination(self, campaign_id: str, department_code: str) -> Nomination | None:
        active = await self._repo.list_submissions(campaign_id, department_code=department_code)
        return nomination_from(active, campaign_id, department_code) if active else None

    def _form(
        self,
        campaign: Campaign,
        department: Department,
        existing: Nomination | None = None,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        form = nomination_request_card(
            campaign,
            department,
            self._wgs_for(campaign, department),
            existing,
            errors,
            values,
            catalogue=self._catalogue,
        )
        return _stamp_form(form, verbs.NOMINATION_SUBMIT)

    async def nomination_open(self, action: CardAction) -> ActionOutcome:
        """Show the department form (prefilled with what was submitted), or the receipt when closed."""
        context = await self._department_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, department = context
        campaign = domain_campaign(stored)
        existing = await self._existing_nomination(stored.id, department.code)
        now = self._now()
        if not campaign.accepting(now):
            if existing is not None:
                receipt = submission_receipt_card(campaign, department, existing, self._catalogue, now=now)
                return InvokeResult(card=receipt), ()
            return InvokeResult(card=notice_card("受付は終了しました", MSG_CLOSED)), ()
        return InvokeResult(card=self._form(campaign, department, existing)), ()

    async def nomination_edit(self, action: CardAction) -> ActionOutcome:
        """The receipt's 変更する: the form again, prefilled."""
        return await self.nomination_open(action)

    async def nomination_submit(self, action: CardAction) -> ActionOutcome:
        """Validate and store a department's form; errors come back on the same form."""
        fingerprint = _action_fingerprint(action)
        key = f"{action.sender.aad_object_id}:{_idempotency_key(action.verb, fingerprint)}"
        return await self._submits.run(key, lambda: self._nomination_submit(action, fingerprint))

    async def _nomination_submit(self, action: CardAction, fingerprint: str) -> ActionOutcome:
        context = await self._department_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, department = context
        campaign = domain_campaign(stored)
        now = self._now()
        submitter = action.sender.aad_object_id or ""
        parsed = parse_nomination(
            action.data,
            campaign=campaign,
            department=department,
            catalogue=self._catalogue,
            submitted_by=submitter,
            now=now,
        )
        if isinstance(parsed, FormErrors):
            return InvokeResult(card=self._form(campaign, department, None, parsed.errors, parsed.values)), ()
        duplicates = await self._taken_elsewhere(stored.id, department.code, parsed)
        if duplicates:
            values = {k: v for k, v in action.data.items() if isinstance(v, str) and k != "verb"}
            return InvokeResult(card=self._form(campaign, department, None, duplicates, values)), ()
        key = _idempotency_key(f"nom:{stored.id}:{department.code}", fingerprint)
        # The whole form in one transaction (one job for SQLite's group-committing writer):
        # either every WG is stored, or none is.
        try:
            await self._repo.submit_form(
                stored.id,
                department.code,
                [
                    (wg.id, stored_nominees(parsed.for_wg(wg.id)))
                    for wg in self._wgs_for(campaign, department)
                ],
                by=submitter,
                idempotency_key=key,
                now=now,
            )
        except CampaignClosed:
            values = {k: v for k, v in action.data.items() if isinstance(v, str) and k != "verb"}
            errors = {FORM_ERROR: MSG_CLOSED}
            return InvokeResult(card=self._form(campaign, department, None, errors, values)), ()
        self._note_nominees(stored.id, department.code, parsed)
        receipt = submission_receipt_card(campaign, department, parsed, self._catalogue, now=now)
        return InvokeResult(card=receipt), ()

    async def _taken_elsewhere(
        self, campaign_id: str, department_code: str, nomination: Nomination
    ) -> dict[str, str]:
        """Field errors for nominees another department already put forward for the same WG."""
        taken = {
            key: code
            for key, code in (await self._nominees_by_wg(campaign_id)).items()
            if code != department_code
        }
        if not taken:
            return {}
        directory = await self.directory()
        errors: dict[str, str] = {}
        slots: dict[str, int] = {}
        for nominee in nomination.nominees:
            slot = slots.get(nominee.wg_id, 0) + 1
            slots[nominee.wg_id] = slot
            other = taken.get((nominee.wg_id, nominee.aad_object_id.lower()))
            if other is not None:
                found = directory.get(other)
                errors[nominee_field(nominee.wg_id, slot, "aad")] = _duplicate_message(
                    found.name if found else other
                )
        return errors

    async def nomination_withdraw(self, action: CardAction) -> ActionOutcome:
        """Withdraw all of the department's submissions in the campaign."""
        context = await self._department_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, department = context
        active = await self._repo.list_submissions(stored.id, department_code=department.code)
        if not active:
            return InvokeResult(card=withdrawn_card("推薦")), ()
        try:
            # one transaction: every WG is withdrawn, or (closed meanwhile) none is
            await self._repo.withdraw_many(
                [s.id for s in active], by=action.sender.aad_object_id or "", now=self._now()
            )
        except CampaignClosed:
            campaign = domain_campaign(stored)
            receipt = submission_receipt_card(
                campaign,
                department,
                nomination_from(active, stored.id, department.code),
                self._catalogue,
                now=self._now(),
            )
            return InvokeResult(card=receipt, message=MSG_CLOSED), ()
        self._note_nominees(stored.id, department.code, None)
        return InvokeResult(card=withdrawn_card("推薦")), ()

    # -- open application ----------------------------------------------------------------------

    async def _application_context(
        self, action: CardAction
    ) -> tuple[StoredCampaign, WorkingGroup] | InvokeResult:
        campaign_id = _text_field(action.data, "campaign_id")
        stored = await self.campaign(campaign_id) if campaign_id else None
        if stored is None:
            return InvokeResult(card=notice_card("募集が見つかりません", MSG_UNKNOWN_CAMPAIGN))
        wg = self._catalogue.get(_text_field(action.data, "wg_id"))
        if wg is None or wg not in self._catalogue.open_application(stored.wg_ids):
            return InvokeResult(
                card=notice_card("募集が見つかりません", "このWGはこのフォームで応募を受け付けていません。")
            )
        if not action.sender.aad_object_id:
            return InvokeResult(card=notice_card("確認できませんでした", MSG_NO_IDENTITY))
        return stored, wg

    async def _application_form(
        self,
        campaign: Campaign,
        wg: WorkingGroup,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        existing: OpenApplication | None = None,
    ) -> dict[str, Any]:
        form = open_application_card(
            campaign,
            wg,
            errors,
            values,
            directory=await self.directory(),
            motivation_max_length=self._catalogue.motivation_max_length,
            existing=existing,
        )
        return _stamp_form(form, verbs.APPLICATION_SUBMIT)

    async def application_open(self, action: CardAction) -> ActionOutcome:
        """The open-application form; from a channel it goes to the person's 1:1 chat instead."""
        context = await self._application_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, wg = context
        campaign = domain_campaign(stored)
        aad = action.sender.aad_object_id or ""
        now = self._now()
        mine = await self._repo.get_application(stored.id, aad)
        existing = (
            application_from(mine)
            if mine is not None and mine.status == "submitted" and mine.wg_id == wg.id
            else None
        )
        if not campaign.accepting(now):
            answer = notice_card("受付は終了しました", MSG_CLOSED)
        elif existing is not None:
            answer = application_receipt_card(campaign, wg, existing, await self.directory(), now=now)
        else:
            answer = await self._application_form(
                campaign, wg, values={"name": action.sender.name} if action.sender.name else None
            )
        if action.conversation.kind == "personal":
            return InvokeResult(card=answer), ()
        # In a channel the answer would replace the announcement for everyone: keep the
        # announcement as it is and send the form to the person's 1:1 chat.
        announcement = open_application_announcement_card(
            campaign, self._catalogue.open_application(campaign.wg_ids)
        )
        private = self._personal(aad, answer, action.conversation)
        return (
            InvokeResult(card=announcement, message="応募フォームを 1:1 チャットに送りました。"),
            [private] if private is not None else [],
        )

    async def application_edit(self, action: CardAction) -> ActionOutcome:
        """The receipt's 変更する: the application form, prefilled."""
        context = await self._application_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, wg = context
        campaign = domain_campaign(stored)
        if not campaign.accepting(self._now()):
            return InvokeResult(card=notice_card("受付は終了しました", MSG_CLOSED)), ()
        mine = await self._repo.get_application(stored.id, action.sender.aad_object_id or "")
        existing = application_from(mine) if mine is not None and mine.status == "submitted" else None
        return InvokeResult(card=await self._application_form(campaign, wg, existing=existing)), ()

    async def application_submit(self, action: CardAction) -> ActionOutcome:
        """Validate and store an open application; errors come back on the same form."""
        fingerprint = _action_fingerprint(action)
        key = f"{action.sender.aad_object_id}:{_idempotency_key(action.verb, fingerprint)}"
        return await self._submits.run(key, lambda: self._application_submit(action, fingerprint))

    async def _application_submit(self, action: CardAction, fingerprint: str) -> ActionOutcome:
        context = await self._application_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, wg = context
        campaign = domain_campaign(stored)
        now = self._now()
        aad = action.sender.aad_object_id or ""
        directory = await self.directory()
        parsed = parse_application(
            action.data,
            campaign=campaign,
            catalogue=self._catalogue,
            directory=directory,
            applicant_aad_id=aad,
            now=now,
        )
        if isinstance(parsed, FormErrors):
            return InvokeResult(
                card=await self._application_form(campaign, wg, parsed.errors, parsed.values)
            ), ()
        try:
            await self._repo.apply(
                stored.id,
                aad,
                applicant_name=parsed.name,
                wg_id=parsed.wg_id,
                themes=parsed.themes,
                motivation=parsed.motivation,
                supervisor_agreed=parsed.supervisor_agreed,
                department_code=parsed.department_code,
                position=parsed.position,
                idempotency_key=_idempotency_key(f"app:{stored.id}:{aad}", fingerprint),
                now=now,
            )
        except CampaignClosed:
            values = {k: v for k, v in action.data.items() if isinstance(v, str) and k != "verb"}
            return InvokeResult(
                card=await self._application_form(campaign, wg, {FORM_ERROR: MSG_CLOSED}, values)
            ), ()
        return InvokeResult(card=application_receipt_card(campaign, wg, parsed, directory, now=now)), ()

    async def application_withdraw(self, action: CardAction) -> ActionOutcome:
        """Withdraw the person's own application."""
        context = await self._application_context(action)
        if isinstance(context, InvokeResult):
            return context, ()
        stored, _wg = context
        mine = await self._repo.get_application(stored.id, action.sender.aad_object_id or "")
        if mine is None or mine.status == "withdrawn":
            return InvokeResult(card=withdrawn_card("応募")), ()
        try:
            await self._repo.withdraw_application(
                mine.id, by=action.sender.aad_object_id or "", now=self._now()
            )
        except CampaignClosed:
            return InvokeResult(card=notice_card("受付は終了しました", MSG_CLOSED)), ()
        return InvokeResult(card=withdrawn_card("応募")), ()

    # -- status refresh --------------------------------------------------------------------------

    async def status_refresh(self, action: CardAction) -> ActionOutcome:
        """Admins get the fresh status card; anyone else a short read-only notice."""
        if not self.is_admin(action.sender.aad_object_id):
            return InvokeResult(
                card=notice_card("提出状況", "提出状況は事務局（管理者）だけが確認できます。")
            ), ()
        status = await self.status_card(_text_field(action.data, "campaign_id"))
        if status is None:
            return InvokeResult(card=notice_card("募集が見つかりません", MSG_UNKNOWN_CAMPAIGN)), ()
        return InvokeResult(card=status), ()

    # -- reminders -----------------------------------------------------------------------------

    async def run_reminders(self, stop_event: asyncio.Event) -> None:
        """Background task: every ``reminder_interval_seconds``, send the reminders that are due."""
        while not stop_event.is_set():
            try:
                await self.send_due_reminders()
            except Exception:  # one bad round must not end the loop
                log.exception("sending due reminders failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=self.config.reminder_interval_seconds)

    async def send_due_reminders(self) -> int:
        """For each open campaign's latest due slot, remind the departments still missing; count them.

        A slot this replica has already run costs nothing more than the campaign list: the
        departments missing at the slot were claimed (by this replica or another) and reminded.
        """
        now = self._now()
        reminded = 0
        for stored in await self._repo.list_campaigns("open"):
            if now >= stored.deadline:
                continue
            due = [slot for slot in stored.reminder_schedule if slot <= now]
            if not due:
                continue
            # Only the latest due slot: after downtime, one reminder rather than a burst.
            reminded += await self.remind_now(stored.id, slot=due[-1].astimezone(UTC).isoformat())
        return reminded

    async def remind_now(
        self, campaign_id: str, *, slot: str | None = None, origin: ConversationRef | None = None
    ) -> int:
        """Remind every department still missing a WG, once per (department, slot); count departments."""
        slot = slot or f"manual:{self._now().isoformat(timespec='minutes')}"
        if (campaign_id, slot) in self._reminded:
            return 0
        stored = await self._repo.get_campaign(campaign_id)
        if stored is None or stored.status != "open":
            return 0
        campaign = domain_campaign(stored)
        directory = await self.directory()
        missing: dict[str, list[str]] = {}
        for wg_status in await self._repo.status(campaign_id):
            wg = self._catalogue.get(wg_status.wg_id)
            if wg is None or not wg.is_nominated_by_departments:
                continue
            for code in wg_status.missing:
                missing.setdefault(code, []).append(wg.id)
        reachable = {
            code: (department, wg_ids)
            for code, wg_ids in missing.items()
            if (department := directory.get(code)) is not None and department.contacts
        }
        origin = origin or await self._origin_ref()
        if reachable and origin is None:
            log.warning("no conversation to take the tenant from; reminders not sent")
            return 0  # nothing claimed: tried again at the next round
        # One transaction for all of them; only the departments this call claimed are reminded.
        claimed = await self._repo.claim_reminders(campaign_id, list(reachable), slot)
        reminded = 0
        for code, (department, wg_ids) in reachable.items():
            if code not in claimed:
                continue
            wgs = [wg for wg in self._catalogue if wg.id in wg_ids]
            reminded += 1
            for contact in department.contacts:
                outgoing = self._personal(contact, reminder_card(campaign, department, wgs), origin)
                if outgoing is not None and not self._sender.enqueue(outgoing):
                    await self._sender.send(outgoing)  # queue full: wait for room rather than lose it
        self._reminded.add((campaign_id, slot))
        log.info("campaign %s slot %s: reminded %d departments", campaign_id, slot, reminded)
        return reminded


async def export_campaign(
    repo: Nominations, catalogue: Catalogue, stored: StoredCampaign, fmt: ExportFormat
) -> ExportFile:
    """Build the export file of a campaign from the repository (also used by the command line)."""
    departments = await repo.list_departments(active_only=False)
    directory = DepartmentDirectory(Department(d.code, d.name, d.contacts) for d in departments)
    submissions = await repo.list_submissions(stored.id)
    nominations = [nomination_from([s], stored.id, s.department_code) for s in submissions]
    applications = [application_from(a) for a in await repo.list_applications(stored.id)]
    rows = export_rows(domain_campaign(stored), catalogue, directory, nominations, applications)
    stem = f"WG推薦一覧_{stored.id}"
    if fmt == "csv":
        return ExportFile(f"{stem}.csv", MEDIA_TYPES["csv"], to_csv_bytes(rows))
    # openpyxl takes a while for a big campaign: not on the event loop
    data = await asyncio.to_thread(to_xlsx_bytes, rows, catalogue)
    return ExportFile(f"{stem}.xlsx", MEDIA_TYPES["xlsx"], data)
