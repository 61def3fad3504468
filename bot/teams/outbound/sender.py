"""``TeamsSender``: the ``OutboundSender`` the services use, over the Bot Connector.

It decides the REST calls for an ``Outgoing``: a reply (in the channel thread when there is
one), a targeted message seen by the sender alone, the person's 1:1 chat (found through the
conversation store or created), an update in place or a delete. Sends either happen now
(``send``) or through a bounded queue served by worker tasks (``enqueue``), so a burst of
inbound traffic never waits on Teams.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain import ConversationRef, Delivery, Outgoing, Person
from bot.ports import SendResult
from bot.teams.outbound.activities import channel_account, message_activity, thread_conversation_id
from bot.teams.outbound.connector import ConnectorClient, ConnectorResponse

log = logging.getLogger(__name__)

PersonalConversationLookup = Callable[[str], Awaitable[ConversationRef | None]]
"""Given a person key (Entra object id, else Teams id), their stored 1:1 chat with the bot."""

RememberPersonalConversation = Callable[[str, ConversationRef], Awaitable[None]]
"""Store a newly created 1:1 chat under the person key."""

OnSent = Callable[[str, SendResult], Awaitable[None] | None]
"""Told the result of every send whose ``Outgoing.tag`` is set."""

# Deliveries whose failure may be routed along ``Outgoing.fallback``: a refused private
# message has somewhere else to go; a refused public reply must not turn into a DM.
_FALLBACK_FROM = frozenset({Delivery.TARGETED, Delivery.PERSONAL})
# A stored 1:1 chat that answers like this is stale (bot uninstalled and reinstalled).
_STALE_CONVERSATION = frozenset({403, 404})


def person_key(person: Person) -> str:
    """The key under which a person's 1:1 chat is stored."""
    return person.aad_object_id or person.teams_id


class TeamsSender:
    """Implements ``bot.ports.OutboundSender`` on a ``ConnectorClient``."""

    def __init__(
        self,
        connector: ConnectorClient,
        *,
        bot_id: str = "",
        targeted_enabled: bool = True,
        personal_conversation_lookup: PersonalConversationLookup | None = None,
        remember_personal_conversation: RememberPersonalConversation | None = None,
        on_sent: OnSent | None = None,
        queue_size: int = 1000,
        workers: int = 4,
        queue_depth_gauge: Any = None,
    ) -> None:
        """``bot_id`` ("28:<app id>") is used to create 1:1 chats when a ConversationRef has none."""
        self._connector = connector
        self.bot_id = bot_id
        self.targeted_enabled = targeted_enabled
        self._lookup = personal_conversation_lookup
        self._remember = remember_personal_conversation
        self._on_sent = on_sent
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=queue_size)
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._accepting = True
        self._depth = queue_depth_gauge  # e.g. Metrics.outgoing_queue_depth

    # -- OutboundSender -------------------------------------------------------------------

    def enqueue(self, outgoing: Outgoing) -> bool:
        """Queue for the workers without waiting; False when the queue is full or stopped.

        The caller decides what a False means (the edge drops and counts it; the reminders
        send it directly instead), so it is neither counted nor logged here.
        """
        if not self._accepting:
            return False
        try:
            self._queue.put_nowait(outgoing)
        except asyncio.QueueFull:
            return False
        self._report_depth()
        return True

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Send now (waiting for rate limits and retries) and return the result."""
        try:
            result = await self._dispatch(outgoing)
        except Exception:
            log.exception("sending a %s failed unexpectedly", outgoing.delivery.value)
            result = SendResult(None, outgoing.delivery, ok=False)
        if outgoing.tag and self._on_sent is not None:
            await self._notify(outgoing.tag, result)
        return result

    # -- workers ----------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Outgoings waiting in the queue."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Start the worker tasks (idempotent)."""
        self._accepting = True
        if self._workers:
            return
        self._workers = [
            asyncio.create_task(self._work(), name=f"outbound-{i}") for i in range(self._worker_count)
        ]

    async def stop(self, *, drain: bool = True, timeout_s: float = 10.0) -> None:
        """Stop accepting, send what is queued (up to ``timeout_s``) when ``drain``, end the workers."""
        self._accepting = False
        if drain and self._workers:
            try:
                await asyncio.wait_for(self._queue.join(), timeout_s)
            except TimeoutError:
                log.warning("outbound queue not drained in %.0f s; %d left", timeout_s, self._queue.qsize())
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    async def _work(self) -> None:
        while True:
            outgoing = await self._queue.get()
            self._report_depth()
            try:
                await self.send(outgoing)
            finally:
                self._queue.task_done()

    def _report_depth(self) -> None:
        if self._depth is not None:
            self._depth.set(self._queue.qsize())

    # -- routing ----------------------------------------------------------------------------

    async def _dispatch(self, outgoing: Outgoing) -> SendResult:
        if outgoing.delete_activity_id:
            return await self._delete(outgoing, outgoing.delete_activity_id)
        if outgoing.card is None and not outgoing.text:
            log.warning("an outgoing %s has neither card nor text; not sent", outgoing.delivery.value)
            return SendResult(None, outgoing.delivery, ok=False)
        if outgoing.replaces_activity_id:
            return await self._update(outgoing, outgoing.replaces_activity_id)
        route = [outgoing.delivery]
        if outgoing.delivery in _FALLBACK_FROM:
            route += [d for d in outgoing.fallback if d not in route]
        last: SendResult | None = None
        for delivery in route:
            result, refused = await self._deliver(delivery, outgoing)
            if result is None:  # not possible here (disabled, no recipient, ...): next option
                continue
            if result.ok or not refused:
                return result
            last = result
        return last or SendResult(None, outgoing.delivery, ok=False)

    async def _deliver(self, delivery: Delivery, outgoing: Outgoing) -> tuple[SendResult | None, bool]:
        """One delivery attempt: (result or None when unavailable, whether it was refused)."""
        conversation = outgoing.conversation
        if delivery is Delivery.LOG_ONLY:
            return SendResult(None, Delivery.LOG_ONLY, ok=True), False
        if delivery in (Delivery.REPLY, Delivery.THREAD):
            return self._result(delivery, await self._reply(conversation, message_activity(outgoing)))
        if delivery is Delivery.TARGETED:
            if conversation.kind == "personal":
                # Targeted messages do not exist in 1:1 chats, which are private already.
                return self._result(
                    Delivery.REPLY, await self._reply(conversation, message_activity(outgoing))
                )
            if not self.targeted_enabled or outgoing.recipient is None:
                return None, False
            activity = {**message_activity(outgoing), "recipient": channel_account(outgoing.recipient)}
            response = await self._connector.send_to_conversation(
                conversation.service_url, thread_conversation_id(conversation), activity, targeted=True
            )
            return self._result(Delivery.TARGETED, response)
        if delivery is Delivery.PERSONAL:
            return await self._deliver_personal(outgoing)
        return None, False

    async def _deliver_personal(self, outgoing: Outgoing) -> tuple[SendResult | None, bool]:
        recipient = outgoing.recipient
        conversation = outgoing.conversation
        if conversation.kind == "personal":  # already the person's 1:1 chat
            return self._result(
                Delivery.PERSONAL, await self._reply(conversation, message_activity(outgoing))
            )
        if recipient is None:
            return None, False
        activity = message_activity(outgoing)
        stored = await self._stored_personal(recipient)
        if stored is not None:
            response = await self._connector.send_to_conversation(
                stored.service_url, stored.conversation_id, activity
            )
            if response.status not in _STALE_CONVERSATION:
                return self._result(Delivery.PERSONAL, response)
        created, failure = await self._create_personal(recipient, conversation)
        if created is None:
            return self._result(Delivery.PERSONAL, failure) if failure else (None, False)
        response = await self._connector.send_to_conversation(
            created.service_url, created.conversation_id, activity
        )
        return self._result(Delivery.PERSONAL, response)

    async def _update(self, outgoing: Outgoing, activity_id: str) -> SendResult:
        target = await self._existing_target(outgoing)
        if target is None:
            return SendResult(activity_id, outgoing.delivery, ok=False)
        service_url, conversation_id, targeted = target
        response = await self._connector.update_activity(
            service_url, conversation_id, activity_id, message_activity(outgoing), targeted=targeted
        )
        return SendResult(activity_id, outgoing.delivery, ok=response.ok, status=response.status)

    async def _delete(self, outgoing: Outgoing, activity_id: str) -> SendResult:
        target = await self._existing_target(outgoing)
        if target is None:
            return SendResult(activity_id, outgoing.delivery, ok=False)
        service_url, conversation_id, targeted = target
        response = await self._connector.delete_activity(
            service_url, conversation_id, activity_id, targeted=targeted
        )
        return SendResult(activity_id, outgoing.delivery, ok=response.ok, status=response.status)

    async def _existing_target(self, outgoing: Outgoing) -> tuple[str, str, bool] | None:
        """Where an earlier message sent with ``outgoing.delivery`` lives: (serviceUrl, id, targeted)."""
        conversation = outgoing.conversation
        if outgoing.delivery is Delivery.PERSONAL and conversation.kind != "personal":
            if outgoing.recipient is None:
                return None
            stored = await self._stored_personal(outgoing.recipient)
            return (stored.service_url, stored.conversation_id, False) if stored else None
        targeted = outgoing.delivery is Delivery.TARGETED and conversation.kind != "personal"
        return conversation.service_url, thread_conversation_id(conversation), targeted

    # -- helpers ----------------------------------------------------------------------------

    async def _reply(self, conversation: ConversationRef, activity: dict[str, Any]) -> ConnectorResponse:
        if conversation.kind == "channel" and conversation.thread_root_id:
            return await self._connector.reply_to_activity(
                conversation.service_url,
                thread_conversation_id(conversation),
                conversation.thread_root_id,
                activity,
            )
        return await self._connector.send_to_conversation(
            conversation.service_url, conversation.conversation_id, activity
        )

    async def _stored_personal(self, person: Person) -> ConversationRef | None:
        if self._lookup is None:
            return None
        try:
            return await self._lookup(person_key(person))
        except Exception:
            log.exception("looking up a 1:1 conversation failed")
            return None

    async def _create_personal(
        self, person: Person, origin: ConversationRef
    ) -> tuple[ConversationRef | None, ConnectorResponse | None]:
        bot_id = origin.bot_id or self.bot_id
        if not bot_id or not (person.teams_id or person.aad_object_id):
            return None, None
        response = await self._connector.create_personal_conversation(
            origin.service_url,
            bot_id=bot_id,
            member_id=person.teams_id or str(person.aad_object_id),
            tenant_id=origin.tenant_id,
        )
        if not response.ok or not response.resource_id:
            return None, response
        ref = ConversationRef(
            conversation_id=response.resource_id,
            kind="personal",
            service_url=origin.service_url,
            tenant_id=origin.tenant_id,
            bot_id=bot_id,
        )
        if self._remember is not None:
            try:
                await self._remember(person_key(person), ref)
            except Exception:
                log.exception("remembering a 1:1 conversation failed")
        return ref, None

    @staticmethod
    def _result(delivery: Delivery, response: ConnectorResponse) -> tuple[SendResult, bool]:
        return (
            SendResult(response.resource_id, delivery, ok=response.ok, status=response.status),
            response.refused,
        )

    async def _notify(self, tag: str, result: SendResult) -> None:
        assert self._on_sent is not None
        try:
            outcome = self._on_sent(tag, result)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            log.exception("on_sent hook failed")
