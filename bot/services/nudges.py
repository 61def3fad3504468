"""From rule findings to one private, friendly nudge per message; and what its buttons do.

The message path stays cheap: a message that breaks no rule costs one rule evaluation and an
in-memory statistics count, no database call. Only a message with findings touches storage
(claim the activity id so a redelivery is handled once, reserve the daily caps, remember
where the nudge went so an edit can withdraw it).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.domain import (
    CardAction,
    ConversationRef,
    Delivery,
    IncomingMessage,
    InvokeResult,
    Outgoing,
    Person,
)
from bot.ports import SendResult
from bot.services.actions import ActionOutcome, ActionRegistry
from bot.services.userkey import UserKeyer
from bot.storage.ports import ConversationStore, NudgeState
from cards import (
    DEFAULT_RULE_HOWTO,
    HOWTO_TOPICS,
    NudgeItem,
    NudgeView,
    nudge_ack_card,
    nudge_card,
    nudge_withdrawn_card,
    settings_card,
    verbs,
)
from policy_rules import Finding, MessageInput, Rule, RuleSet

log = logging.getLogger(__name__)

JST = ZoneInfo("Asia/Tokyo")
GREETING_RULE = "formulaic-greeting"
NUDGE_TAG_PREFIX = "nudge:"
MAX_PENDING_NUDGES = 10_000
_GREETING_EVENT = "greeting-only"
_PUNCTUATION = set(" \t\r\n　。、．，！!？?・…〜~ｗw笑")

AttachmentLookup = Callable[[IncomingMessage], Awaitable[Sequence[tuple[str, str]]]]


class StatsSink(Protocol):
    """Where the nudge service reports plain facts for the statistics (no text, no names)."""

    async def message_checked(self, message: IncomingMessage, rule_ids: Sequence[str], user_key: str) -> None:
        """A message was checked; ``rule_ids`` are the rules that fired."""
        ...

    async def nudge_sent(
        self, sender: Person, conversation_kind: str, rule_ids: Sequence[str], nudge_id: str
    ) -> None:
        """A nudge about ``rule_ids`` went out (``nudge_id`` is unique, also for an edit's new nudge)."""
        ...

    async def nudge_action(
        self, action: CardAction, kind: str, rule_ids: Sequence[str], user_key: str
    ) -> None:
        """A nudge button was clicked: ``kind`` is helpful, not_helpful, snooze or opt_out."""
        ...


@dataclass(frozen=True, slots=True)
class NudgeConfig:
    """How often and how a nudge may be shown."""

    per_rule_daily_cap: int = 1
    overall_daily_cap: int = 3
    greeting_merge_seconds: int = 60
    howto_urls: dict[str, str] = field(default_factory=dict)  # how-to topic key -> portal URL


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_JST_OFFSET_S = 9 * 3600  # Japan has no daylight saving time


_last_day: tuple[int, date] = (-1, date(1970, 1, 1))  # the day number asked last, and its date


def jst_day_of(epoch_seconds: float) -> date:
    """The calendar day in Japan at a Unix time (the date object is reused within a day)."""
    global _last_day
    number = int(epoch_seconds + _JST_OFFSET_S) // 86400
    last = _last_day
    if last[0] == number:
        return last[1]
    day = date.fromordinal(_EPOCH_ORDINAL + number)
    _last_day = (number, day)
    return day


def today_jst(now: datetime) -> date:
    """The calendar day in Japan, which is what 'today' means to the city's staff."""
    # plain arithmetic: this runs for every message, and astimezone() costs several microseconds
    return jst_day_of(now.timestamp())


def _topic_key(topic: str | None, rule_id: str) -> str | None:
    """The cards' how-to key for a rule's ``howto_topic`` (a key or a topic title)."""
    if topic:
        for howto in HOWTO_TOPICS:
            if topic in (howto.key, howto.title) or howto.title.startswith(topic):
                return howto.key
    return DEFAULT_RULE_HOWTO.get(rule_id)


def nudge_item(rule: Rule, finding: Finding, howto_urls: Mapping[str, str]) -> NudgeItem:
    """One finding as the nudge card words it: the rule's YAML texts and its how-to link."""
    wording = rule.render_nudge(finding)
    key = _topic_key(rule.howto_topic, rule.id)
    howto = next((t for t in HOWTO_TOPICS if t.key == key), None)
    return NudgeItem(
        rule_id=rule.id,
        title=wording["title"],
        why=wording["body"],
        policy_section=rule.policy_section,
        suggestion=wording["suggestion"],
        quote=finding.quote or None,
        howto_title=howto.title if howto else None,
        howto_url=howto_urls.get(key) if key else None,
    )


def _is_greeting_only(text: str, findings: Sequence[Finding]) -> bool:
    """True when the message is nothing but its greeting (a common Japanese chat opening)."""
    if not findings or any(f.rule_id != GREETING_RULE for f in findings):
        return False
    covered = [False] * len(text)
    for finding in findings:
        for index in range(max(0, finding.start), min(len(text), finding.end)):
            covered[index] = True
    rest = [ch for index, ch in enumerate(text) if not covered[index] and ch not in _PUNCTUATION]
    return len(rest) <= 2


@dataclass
class _Pending:
    message_activity_id: str
    conversation_id: str
    user_key: str
    rule_ids: tuple[str, ...]
    day: date
    sender: Person
    conversation_kind: str


class NudgeService:
    """Checks messages against the rules and turns findings into private nudge cards."""

    def __init__(
        self,
        *,
        rules: Callable[[], RuleSet],
        state: NudgeState,
        conversations: ConversationStore,
        keyer: UserKeyer,
        config: NudgeConfig | None = None,
        stats: StatsSink | None = None,
        attachment_lookup: AttachmentLookup | None = None,
        on_nudge: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._rules = rules
        self._state = state
        self._conversations = conversations
        self._keyer = keyer
        self._config = config or NudgeConfig()
        self._stats = stats
        self._attachment_lookup = attachment_lookup
        self._on_nudge = on_nudge  # e.g. the nudges_total metric, per rule id
        self._clock = clock or (lambda: datetime.now(JST))
        # nudges handed to the sender and not yet reported back; bounded, because a nudge dropped
        # by a full send queue is never reported (its reservation then simply lapses at midnight)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()

    # -- messages ---------------------------------------------------------------------------

    async def check(self, message: IncomingMessage) -> list[Outgoing]:
        """Evaluate a new or edited message; return the nudge to send (or the withdrawal)."""
        attachments = (
            tuple([(a.content_type, a.name) for a in message.attachments]) if message.attachments else ()
        )
        if self._attachment_lookup is not None and self._may_carry_files(message, attachments):
            # Bots get file attachments only in 1:1 chats; elsewhere Graph tells (never blocking the rules).
            try:
                attachments += tuple(await self._attachment_lookup(message))
            except Exception:
                log.warning("attachment lookup failed; checking the message without files")
        rule_set = self._rules()
        findings = rule_set.evaluate(
            MessageInput(
                text=message.text,
                conversation_type=message.conversation.kind,
                is_reply=message.is_reply,
                attachments=attachments,
            )
        )
        user_key = self._keyer.key(message.sender)
        if self._stats is not None:
            await self._stats.message_checked(
                message, sorted({f.rule_id for f in findings}) if findings else (), user_key
            )
        if message.is_edit:
            return await self._check_edit(message, findings, rule_set, user_key)
        if not findings:
            return []
        # claimed with the reservation, in one write: Teams may redeliver it, or to another replica
        once_key = f"nudge:{message.conversation.conversation_id}:{message.activity_id}"
        return await self._nudge(message, findings, rule_set, user_key, once_key=once_key)

    @staticmethod
    def _may_carry_files(message: IncomingMessage, attachments: tuple[tuple[str, str], ...]) -> bool:
        if "<attachment" not in message.original_text or message.conversation.kind == "personal":
            return False
        has_file = any(
            not ct.startswith(("text/html", "application/vnd.microsoft.card")) for ct, _ in attachments
        )
        return not has_file

    async def _check_edit(
        self, message: IncomingMessage, findings: list[Finding], rule_set: RuleSet, user_key: str
    ) -> list[Outgoing]:
        previous = await self._state.find_nudge_for_message(
            message.conversation.conversation_id, message.activity_id
        )
        fired = {f.rule_id for f in findings}
        # Each edit has its own timestamp: claimed with the reservation, so that an edit Teams
        # delivers to two replicas (or twice) gets one new nudge (withdrawing is once already).
        once_key = (
            f"nudge:{message.conversation.conversation_id}:{message.activity_id}:edit:{message.timestamp}"
            if message.timestamp
            else None
        )
        if previous is not None and previous.withdrawn_at is None:
            if not fired & set(previous.rule_ids) and await self._state.mark_withdrawn(previous.nudge_id):
                withdrawal = await self._withdrawal(
                    message, previous.sent_activity_id, previous.delivered_via
                )
                new = [f for f in findings if f.rule_id not in previous.rule_ids]
                if new:
                    return [
                        *withdrawal,
                        *await self._nudge(message, new, rule_set, user_key, edit=True, once_key=once_key),
                    ]
                return withdrawal
            # still (partly) the same problem: one nudge is enough; only new rules are worth a word
            findings = [f for f in findings if f.rule_id not in previous.rule_ids]
        if not findings:
            return []
        return await self._nudge(message, findings, rule_set, user_key, edit=True, once_key=once_key)

    async def _withdrawal(
        self, message: IncomingMessage, sent_activity_id: str | None, delivered_via: str
    ) -> list[Outgoing]:
        if not sent_activity_id:
            return []
        if delivered_via == Delivery.TARGETED.value:
            # a targeted message is the sender's alone: take it away
            return [
                Outgoing(
                    conversation=message.conversation,
                    delete_activity_id=sent_activity_id,
                    delivery=Delivery.TARGETED,
                    recipient=message.sender,
                )
            ]
        where: ConversationRef | None = message.conversation
        if delivered_via == Delivery.PERSONAL.value and message.sender.aad_object_id:
            where = await self._conversations.personal_for_user(message.sender.aad_object_id)
        if where is None:
            return []
        return [
            Outgoing(conversation=where, card=nudge_withdrawn_card(), replaces_activity_id=sent_activity_id)
        ]

    async def _nudge(
        self,
        message: IncomingMessage,
        findings: list[Finding],
        rule_set: RuleSet,
        user_key: str,
        *,
        edit: bool = False,
        once_key: str | None = None,
    ) -> list[Outgoing]:
        now = self._clock()
        day = today_jst(now)
        conversation_id = message.conversation.conversation_id
        if _is_greeting_only(message.text, findings):
            await self._state.record_greeting_only(user_key, conversation_id, now)
        elif any(f.rule_id == GREETING_RULE for f in findings):
            # "お疲れ様です。" then the real content a moment later is one habit, worth one nudge
            last = await self._state.last_greeting_only(user_key, conversation_id)
            if last is not None and now - last <= timedelta(seconds=self._config.greeting_merge_seconds):
                findings = [f for f in findings if f.rule_id != GREETING_RULE]
        ordered = list(dict.fromkeys(f.rule_id for f in findings))
        if not ordered:
            return []
        allowed = await self._state.reserve(
            user_key,
            ordered,
            day,
            per_rule_cap=self._config.per_rule_daily_cap,
            overall_cap=self._config.overall_daily_cap,
            once_key=once_key,
        )
        if not allowed:
            return []
        rules = [rule_set.rule(rule_id) for rule_id in allowed]
        suffix = f":edit:{message.timestamp or now.isoformat()}" if edit else ""
        nudge_id = hashlib.sha256(f"{conversation_id}|{message.activity_id}{suffix}".encode()).hexdigest()[
            :20
        ]
        items = [
            nudge_item(rule, next(f for f in findings if f.rule_id == rule.id), self._config.howto_urls)
            for rule in rules
        ]
        card = nudge_card(NudgeView(nudge_id=nudge_id, items=tuple(items)))
        if len(self._pending) >= MAX_PENDING_NUDGES:
            self._pending.popitem(last=False)
        self._pending[nudge_id] = _Pending(
            message.activity_id,
            conversation_id,
            user_key,
            tuple(allowed),
            day,
            message.sender,
            message.conversation.kind,
        )
        if message.conversation.kind == "personal":
            return [
                Outgoing(
                    conversation=message.conversation,
                    card=card,
                    delivery=Delivery.REPLY,
                    recipient=message.sender,
                    tag=NUDGE_TAG_PREFIX + nudge_id,
                )
            ]
        last_resort = Delivery.THREAD if all(r.delivery == "thread" for r in rules) else Delivery.LOG_ONLY
        if all(r.delivery == "log-only" for r in rules):
            return [
                Outgoing(
                    conversation=message.conversation,
                    card=card,
                    delivery=Delivery.LOG_ONLY,
                    recipient=message.sender,
                    tag=NUDGE_TAG_PREFIX + nudge_id,
                )
            ]
        return [
            Outgoing(
                conversation=message.conversation,
                card=card,
                delivery=Delivery.TARGETED,
                recipient=message.sender,
                fallback=(Delivery.PERSONAL, last_resort),
                tag=NUDGE_TAG_PREFIX + nudge_id,
            )
        ]

    async def on_sent(self, tag: str, result: SendResult) -> None:
        """Called by the sender after a nudge went out (or failed): remember or give back the caps."""
        if not tag.startswith(NUDGE_TAG_PREFIX):
            return
        nudge_id = tag[len(NUDGE_TAG_PREFIX) :]
        pending = self._pending.pop(nudge_id, None)
        if pending is None:
            return
        if not result.ok or result.delivered_via == Delivery.LOG_ONLY:
            await self._state.release(pending.user_key, pending.rule_ids, pending.day)
            return
        await self._state.record_sent_nudge(
            nudge_id,
            pending.message_activity_id,
            pending.conversation_id,
            pending.user_key,
            pending.rule_ids,
            result.activity_id,
            result.delivered_via.value,
            self._clock(),
        )
        for rule_id in pending.rule_ids:
            if self._on_nudge is not None:
                self._on_nudge(rule_id)
        if self._stats is not None:
            await self._stats.nudge_sent(
                pending.sender, pending.conversation_kind, pending.rule_ids, nudge_id
            )

    # -- card actions -----------------------------------------------------------------------

    def register(self, actions: ActionRegistry) -> None:
        """Register this service's card verbs."""
        actions.add(verbs.NUDGE_HELPFUL, self._helpful)
        actions.add(verbs.NUDGE_NOT_HELPFUL, self._not_helpful)
        actions.add(verbs.NUDGE_SNOOZE_TODAY, self._snooze)
        actions.add(verbs.NUDGE_OPT_OUT, self._opt_out)
        actions.add(verbs.SETTINGS_UNSNOOZE, self._unsnooze)
        actions.add(verbs.SETTINGS_OPTIN, self._opt_in)

    @staticmethod
    def _rule_ids(data: dict[str, Any]) -> list[str]:
        raw = data.get("rule_ids") or ([data["rule_id"]] if data.get("rule_id") else [])
        if not isinstance(raw, list):
            return []
        return [r for r in raw if isinstance(r, str) and 0 < len(r) <= 64][:10]

    async def _feedback(self, action: CardAction, helpful: bool) -> ActionOutcome:
        user_key = self._keyer.key(action.sender)
        nudge_id = str(action.data.get("nudge_id", ""))[:64]
        rule_ids = self._rule_ids(action.data)
        known = {r.id for r in self._rules().rules}
        new = False
        for rule_id in rule_ids:
            if rule_id in known:
                new |= await self._state.record_feedback(
                    rule_id, helpful, today_jst(self._clock()), user_key, nudge_id
                )
        if new and self._stats is not None:
            await self._stats.nudge_action(
                action, "helpful" if helpful else "not_helpful", rule_ids, user_key
            )
        return InvokeResult(card=nudge_ack_card("helpful" if helpful else "not_helpful")), ()

    async def _helpful(self, action: CardAction) -> ActionOutcome:
        return await self._feedback(action, True)

    async def _not_helpful(self, action: CardAction) -> ActionOutcome:
        return await self._feedback(action, False)

    async def _snooze(self, action: CardAction) -> ActionOutcome:
        user_key = self._keyer.key(action.sender)
        today = today_jst(self._clock())
        await self._state.snooze_until(user_key, today)
        if self._stats is not None:
            await self._stats.nudge_action(action, "snooze", self._rule_ids(action.data), user_key)
        tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=JST)
        return InvokeResult(card=nudge_ack_card("snoozed", snoozed_until=tomorrow)), ()

    async def _opt_out(self, action: CardAction) -> ActionOutcome:
        user_key = self._keyer.key(action.sender)
        rule_set = self._rules()
        rule_ids = [r for r in self._rule_ids(action.data) if r in {r.id for r in rule_set.rules}]
        if not rule_ids:
            return InvokeResult(card=nudge_ack_card("expired")), ()
        for rule_id in rule_ids:
            await self._state.opt_out(user_key, rule_id)
        if self._stats is not None:
            await self._stats.nudge_action(action, "opt_out", rule_ids, user_key)
        title = rule_set.rule(rule_ids[0]).title_ja
        return InvokeResult(card=nudge_ack_card("opted_out", rule_title=title)), ()

    async def settings_card_for(self, action_or_message: CardAction | IncomingMessage) -> dict[str, Any]:
        """The 設定 card of the person who asked: their snooze and hidden rules, each undoable."""
        user_key = self._keyer.key(action_or_message.sender)
        until = await self._state.snoozed_until(user_key)
        today = today_jst(self._clock())
        snoozed = (
            datetime.combine(until + timedelta(days=1), time(0), tzinfo=JST)
            if until and until >= today
            else None
        )
        rule_set = self._rules()
        hidden = []
        for rule_id in sorted(await self._state.opted_out(user_key)):
            title = rule_set.rule(rule_id).title_ja if rule_id in {r.id for r in rule_set.rules} else rule_id
            hidden.append((rule_id, title))
        return settings_card(snoozed, hidden)

    async def _unsnooze(self, action: CardAction) -> ActionOutcome:
        await self._state.unsnooze(self._keyer.key(action.sender))
        return InvokeResult(card=await self.settings_card_for(action)), ()

    async def _opt_in(self, action: CardAction) -> ActionOutcome:
        rule_id = str(action.data.get("rule_id", ""))[:64]
        if rule_id:
            await self._state.opt_in(self._keyer.key(action.sender), rule_id)
        return InvokeResult(card=await self.settings_card_for(action)), ()
