"""The bot's behaviour behind the Teams edge: one ``EventHandler`` that routes to the services."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from bot.domain import (
    CardAction,
    Delivery,
    IncomingMessage,
    InstallEvent,
    InvokeResult,
    Outgoing,
)
from bot.services.actions import ActionOutcome, ActionRegistry
from bot.services.commands import Command, parse_command
from bot.services.nudges import JST, NudgeService
from bot.storage.ports import ActivityClaims, ConversationStore
from cards import help_card, rules_card, verbs, welcome_card
from policy_rules import RuleSet

log = logging.getLogger(__name__)

CommandHandler = Callable[[IncomingMessage, Command], Awaitable[Sequence[Outgoing]]]

ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("キャンペーン開始（campaign start）", "WG選出のキャンペーンを開始し、各所属の担当者へ依頼を送ります"),
    ("状況（status）", "提出状況のカードを表示します"),
    ("リマインド（remind）", "未提出の所属へ今すぐリマインドを送ります"),
    ("締切延長 YYYY-MM-DD（extend）", "締切を延長します"),
    ("締切（close）", "受付を終了します"),
    ("エクスポート（export）", "推薦の一覧をCSVとExcelで受け取ります"),
)


class BotService:
    """Implements ``bot.ports.EventHandler``: commands, rule checks, installs and card actions."""

    def __init__(
        self,
        *,
        rules: Callable[[], RuleSet],
        nudges: NudgeService,
        conversations: ConversationStore,
        actions: ActionRegistry,
        claims: ActivityClaims | None = None,
        howto_urls: dict[str, str] | None = None,
        portal_url: str | None = None,
        is_admin: Callable[[str | None], bool] = lambda _aad_id: False,
    ) -> None:
        self._rules = rules
        self._nudges = nudges
        self._conversations = conversations
        self._actions = actions
        self._howto_urls = howto_urls or {}
        self._portal_url = portal_url
        self._is_admin = is_admin
        self._claims = claims  # handle-once across replicas for what sends something
        self._remembered: set[tuple[str, str | None, str]] = set()
        self._commands: dict[str, CommandHandler] = {
            "help": self._help,
            "rules": self._rules_command,
            "settings": self._settings,
        }
        actions.add(verbs.COMMAND_HELP, self._help_action)
        actions.add(verbs.COMMAND_RULES, self._rules_action)
        actions.add(verbs.COMMAND_SETTINGS, self._settings_action)
        nudges.register(actions)

    async def _remember_personal(self, message: IncomingMessage) -> None:
        """Store the person's 1:1 chat (for proactive cards) once, not on every message."""
        key = (
            message.conversation.conversation_id,
            message.sender.aad_object_id,
            message.conversation.service_url,
        )
        if key in self._remembered:
            return
        await self._conversations.remember(message.conversation, user_aad_id=message.sender.aad_object_id)
        if len(self._remembered) >= 50_000:
            self._remembered.clear()
        self._remembered.add(key)

    def add_command(self, name: str, handler: CommandHandler) -> None:
        """Register another command (the WG nomination service adds the admin commands)."""
        self._commands[name] = handler

    # -- EventHandler -------------------------------------------------------------------------

    async def on_message(self, message: IncomingMessage) -> Sequence[Outgoing]:
        """A command gets its card; any other message is checked against the rules."""
        if message.conversation.kind == "personal" and not message.is_edit:
            await self._remember_personal(message)
        command = None if message.is_edit else parse_command(message)
        if command is not None:
            handler = self._commands.get(command.name)
            if handler is not None:
                if not await self._first_delivery(
                    "command", message.conversation.conversation_id, message.activity_id
                ):
                    return []
                return await handler(message, command)
        return await self._nudges.check(message)

    async def on_install(self, event: InstallEvent) -> Sequence[Outgoing]:
        """Remember where the bot lives; welcome a team, chat or person once when it is added."""
        if event.action == "remove" and event.bot_added:
            await self._conversations.forget(event.conversation.conversation_id)
            return []
        user = event.actor.aad_object_id if event.actor and event.conversation.kind == "personal" else None
        await self._conversations.remember(event.conversation, user_aad_id=user)
        if not event.bot_added:
            return []
        # Teams announces an install twice (conversationUpdate and installationUpdate): one welcome a day
        day = datetime.now(JST).date().isoformat()
        if not await self._first_delivery("welcome", event.conversation.conversation_id, day):
            return []
        card = welcome_card(self._howto_urls, portal_url=self._portal_url)
        return [Outgoing(conversation=event.conversation, card=card, delivery=Delivery.REPLY)]

    async def on_card_action(self, action: CardAction) -> tuple[InvokeResult, Sequence[Outgoing]]:
        """Dispatch an Action.Execute by its verb."""
        return await self._actions.dispatch(action)

    async def _first_delivery(self, kind: str, conversation_id: str, activity_id: str) -> bool:
        """False when another replica (or an earlier delivery) already handled this activity."""
        if self._claims is None or not activity_id:
            return True
        return await self._claims.claim(f"{kind}:{conversation_id}:{activity_id}")

    # -- commands -------------------------------------------------------------------------------

    def _reply(self, message: IncomingMessage, card: dict[str, Any]) -> list[Outgoing]:
        if message.conversation.kind == "personal":
            return [Outgoing(conversation=message.conversation, card=card, delivery=Delivery.REPLY)]
        # asked with an @mention in a shared space: answer the asker alone
        return [
            Outgoing(
                conversation=message.conversation,
                card=card,
                delivery=Delivery.TARGETED,
                recipient=message.sender,
                fallback=(Delivery.PERSONAL, Delivery.THREAD),
            )
        ]

    def _help_card(self, aad_id: str | None) -> dict[str, Any]:
        return help_card(ADMIN_COMMANDS if self._is_admin(aad_id) else ())

    def _rules_card(self) -> dict[str, Any]:
        return rules_card(
            [(r.id, r.title_ja, r.explanation_ja.split("\n")[0], r.enabled) for r in self._rules().rules]
        )

    async def _help(self, message: IncomingMessage, _command: Command) -> Sequence[Outgoing]:
        return self._reply(message, self._help_card(message.sender.aad_object_id))

    async def _rules_command(self, message: IncomingMessage, _command: Command) -> Sequence[Outgoing]:
        return self._reply(message, self._rules_card())

    async def _settings(self, message: IncomingMessage, _command: Command) -> Sequence[Outgoing]:
        return self._reply(message, await self._nudges.settings_card_for(message))

    async def _help_action(self, action: CardAction) -> ActionOutcome:
        return InvokeResult(card=self._help_card(action.sender.aad_object_id)), ()

    async def _rules_action(self, action: CardAction) -> ActionOutcome:
        return InvokeResult(card=self._rules_card()), ()

    async def _settings_action(self, action: CardAction) -> ActionOutcome:
        return InvokeResult(card=await self._nudges.settings_card_for(action)), ()
