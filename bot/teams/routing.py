"""Routes an authenticated activity to the event handler: a list of (selector, route) pairs.

The first selector that matches wins; an activity nothing matches (deletes, typing, reactions,
other invokes, unknown types) is answered 200 with no body. The handler's ``Outgoing``s are
queued on the outbound sender, never awaited here, so a slow Bot Connector cannot hold up
the inbound endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.domain import Outgoing
from bot.metrics import Metrics
from bot.ports import EventHandler, OutboundSender
from bot.teams import convert

log = logging.getLogger(__name__)

Activity = dict[str, Any]
InvokeBody = dict[str, Any]
Selector = Callable[[Activity], bool]
Route = Callable[[Activity], Awaitable[InvokeBody | None]]

_EDIT_EVENTS = frozenset({"", convert.EDIT_EVENT, convert.UNDELETE_EVENT})


def is_edit(activity: Activity) -> bool:
    """A person edited (or restored) a message: Teams sends messageUpdate or message+editMessage."""
    kind = activity.get("type")
    event = convert.event_type(activity)
    return (
        (kind == convert.MESSAGE_UPDATE and event in _EDIT_EVENTS)
        or (kind == convert.MESSAGE and event == convert.EDIT_EVENT)
    ) and not convert.is_from_bot(activity)


def is_message(activity: Activity) -> bool:
    """A new message from a person (the bot's own and other bots' messages are not)."""
    return (
        activity.get("type") == convert.MESSAGE
        and convert.event_type(activity) != convert.SOFT_DELETE_EVENT
        and not convert.is_from_bot(activity)
    )


def is_install(activity: Activity) -> bool:
    """The app was installed/removed or members joined/left."""
    return activity.get("type") in (convert.INSTALLATION_UPDATE, convert.CONVERSATION_UPDATE)


def is_card_action(activity: Activity) -> bool:
    """An Adaptive Card Action.Execute."""
    return activity.get("type") == convert.INVOKE and activity.get("name") == convert.ADAPTIVE_CARD_ACTION


class ActivityRouter:
    """Calls the event handler for the activities it cares about and queues what it returns."""

    def __init__(self, handler: EventHandler, sender: OutboundSender, metrics: Metrics) -> None:
        self._handler = handler
        self._sender = sender
        self._metrics = metrics
        edit = (is_edit, self._on_edit)
        install = (is_install, self._on_install)
        # (selector, route) pairs looked up by activity type first; the first selector that
        # matches wins (each selector tests the type anyway)
        self._by_type: dict[str, list[tuple[Selector, Route]]] = {
            convert.MESSAGE: [edit, (is_message, self._on_message)],
            convert.MESSAGE_UPDATE: [edit],
            convert.INSTALLATION_UPDATE: [install],
            convert.CONVERSATION_UPDATE: [install],
            convert.INVOKE: [(is_card_action, self._on_card_action)],
        }

    async def route(self, activity: Activity) -> InvokeBody | None:
        """Handle one activity; the invoke answer body, if any. Raises InvalidActivity."""
        kind = activity.get("type")
        routes = self._by_type.get(kind) if kind.__class__ is str else None
        if routes is not None:
            for selector, route in routes:
                if selector(activity):
                    return await route(activity)
        return None

    async def _on_message(self, activity: Activity, *, is_edit: bool = False) -> None:
        message = convert.incoming_message(activity, is_edit=is_edit)
        if message is None:
            return None
        event = "edit" if is_edit else "message"
        try:
            outgoing = await self._handler.on_message(message)
        except Exception:
            self._handler_failed(event)
            return None
        self._queue(outgoing)
        return None

    async def _on_edit(self, activity: Activity) -> None:
        return await self._on_message(activity, is_edit=True)

    async def _on_install(self, activity: Activity) -> None:
        event = convert.install_event(activity)
        if event is None:
            return None
        try:
            outgoing = await self._handler.on_install(event)
        except Exception:
            self._handler_failed("install")
            return None
        self._queue(outgoing)
        return None

    async def _on_card_action(self, activity: Activity) -> InvokeBody:
        try:
            action = convert.card_action(activity)
        except convert.InvalidActivity as problem:
            log.info("card action refused: %s", problem)  # which field; never its value
            return convert.invoke_error_body(400, "このボタンの操作を読み取れませんでした。")
        try:
            result, outgoing = await self._handler.on_card_action(action)
        except Exception:
            self._handler_failed("card_action")
            return convert.invoke_error_body(500, "処理中にエラーが発生しました。もう一度お試しください。")
        self._queue(outgoing)
        return convert.invoke_response_body(result)

    def _queue(self, outgoing: Sequence[Outgoing]) -> None:
        for item in outgoing:
            try:
                queued = self._sender.enqueue(item)
            except Exception:
                log.exception("queueing an outgoing message failed")
                queued = False
            if not queued:
                self._metrics.outgoing_rejected_total.inc()
                log.warning("send queue full: dropped an outgoing message (tag=%s)", item.tag)

    def _handler_failed(self, event: str) -> None:
        # The client still gets a clean answer: the failure is ours, and a 5xx would only make
        # the channel redeliver the same activity into the same failure.
        self._metrics.handler_errors_total.labels(event).inc()
        log.exception("event handler failed on %s", event)
