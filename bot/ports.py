"""Interfaces between the Teams edge, the services and the outbound sender.

The edge (``bot/teams``) depends on ``EventHandler``; services depend on ``OutboundSender``.
Neither side imports the other's implementation, so either can be replaced (for example the
Teams edge by the Microsoft 365 Agents SDK) without touching the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain import CardAction, Delivery, IncomingMessage, InstallEvent, InvokeResult, Outgoing


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one ``Outgoing``: the id Teams gave the message and how it went."""

    activity_id: str | None
    delivered_via: Delivery
    ok: bool
    status: int | None = None


class EventHandler(Protocol):
    """What the Teams edge calls for each kind of event; returns what should be sent."""

    async def on_message(self, message: IncomingMessage) -> Sequence[Outgoing]:
        """A new or edited message (``message.is_edit``) that people wrote."""
        ...

    async def on_install(self, event: InstallEvent) -> Sequence[Outgoing]:
        """The bot was installed / added, or members joined a conversation."""
        ...

    async def on_card_action(self, action: CardAction) -> tuple[InvokeResult, Sequence[Outgoing]]:
        """An Action.Execute from a card: the invoke answer, plus any messages to send."""
        ...


class OutboundSender(Protocol):
    """Sends activities to the Bot Connector, respecting Teams' rate limits."""

    async def send(self, outgoing: Outgoing) -> SendResult:
        """Send now (waiting for rate limits) and return the result."""
        ...

    def enqueue(self, outgoing: Outgoing) -> bool:
        """Queue for sending without waiting; False when the bounded queue is full."""
        ...
