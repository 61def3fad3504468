"""End to end through the real ``POST /api/messages`` (signed tokens from the OpenID stand-in),
the real BotService and the nomination service on SQLite; the outbound side is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web

from bot.domain import Delivery
from bot.services.actions import ActionRegistry
from bot.services.bot import BotService
from bot.services.nudges import NudgeService
from bot.services.userkey import UserKeyer
from bot.storage import Database
from bot.web import create_app
from cards import verbs
from policy_rules.reload import ReloadingRuleSet
from tests.edge.conftest import BOT_ID, RunningBot, bot_settings, make_activity, stop_bot
from tests.harness.openid_server import TENANT_ID, OpenIdStandIn
from tests.nominations.conftest import (
    ADMIN,
    CHANNEL,
    STAFF,
    START,
    Clock,
    RecordingSender,
    card_text,
    check_card,
    contacts,
    error_after,
    first_submit_data,
    make_service,
)
from tests.nominations.forms import valid_nomination
from wg.forms import nominee_field


@dataclass
class EndToEnd:
    bot: RunningBot
    sender: RecordingSender
    db: Database
    service: Any
    ids: int = 0

    def _from(self, aad: str) -> dict[str, str]:
        return {"id": f"29:{aad[:8]}", "aadObjectId": aad, "name": "前橋 太郎"}

    def _personal(self, aad: str) -> dict[str, Any]:
        return {"id": f"a:{aad[:8]}", "conversationType": "personal", "tenantId": TENANT_ID}

    async def say(self, aad: str, text: str) -> int:
        self.ids += 1
        activity = make_activity(
            "personal",
            id=f"m{self.ids}",
            text=text,
            conversation=self._personal(aad),
            **{"from": self._from(aad)},
        )
        status, _ = await self.bot.post(activity)
        await self.service.drain()
        return status

    async def invoke(self, aad: str, verb: str, data: dict[str, Any], activity_id: str | None = None) -> Any:
        self.ids += 1
        activity = make_activity(
            "personal",
            type="invoke",
            name="adaptiveCard/action",
            id=activity_id or f"i{self.ids}",
            replyToId="card-1",
            conversation=self._personal(aad),
            value={
                "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}},
                "trigger": "manual",
            },
            **{"from": self._from(aad)},
        )
        activity.pop("text", None)
        status, body = await self.bot.post(activity)
        assert status == 200, body
        return body


@pytest.fixture
async def e2e(db: Database, openid: OpenIdStandIn) -> AsyncIterator[EndToEnd]:
    sender = RecordingSender()
    service = make_service(db, sender, Clock(START))
    actions = ActionRegistry()
    rules = ReloadingRuleSet()
    nudges = NudgeService(
        rules=lambda: rules.current,
        state=db.nudges,
        conversations=db.conversations,
        keyer=UserKeyer(b"k" * 32),
    )
    handler = BotService(
        rules=lambda: rules.current,
        nudges=nudges,
        conversations=db.conversations,
        actions=actions,
        is_admin=service.is_admin,
    )
    service.register(actions, handler)
    await service.start()
    await db.conversations.remember(CHANNEL)
    app = create_app(bot_settings(openid, ALLOWED_TENANT_IDS=TENANT_ID), handler=handler, sender=sender)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    running = RunningBot(f"http://127.0.0.1:{port}", None, None, openid, ClientSession(), app, runner)  # type: ignore[arg-type]
    yield EndToEnd(running, sender, db, service)
    await service.drain()
    await stop_bot(running)


@pytest.fixture
async def openid() -> AsyncIterator[OpenIdStandIn]:
    stand_in = await OpenIdStandIn().start()
    yield stand_in
    await stand_in.close()


def invoke_card(body: Any) -> dict[str, Any]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
    card: dict[str, Any] = body["value"]
    check_card(card)
    return card


async def test_campaign_through_the_endpoint(e2e: EndToEnd) -> None:
    # a non-admin is refused, nothing is stored
    assert await e2e.say(STAFF, "キャンペーン開始 2026 2026-05-15") == 200
    assert await e2e.db.nominations.list_campaigns() == []
    refusal = [o for o in e2e.sender.sent if o.card and "管理者" in card_text(o.card)]
    assert len(refusal) == 1 and refusal[0].conversation.conversation_id == f"a:{STAFF[:8]}"

    # the admin starts it: request cards to every contact, the announcement to the channel
    assert await e2e.say(ADMIN, "キャンペーン開始 2026 2026-05-15") == 200
    [campaign] = await e2e.db.nominations.list_campaigns()
    contact = contacts("D028")[0]
    [request] = e2e.sender.personal_to(contact)
    assert request.delivery is Delivery.PERSONAL and request.conversation.tenant_id == TENANT_ID
    assert request.conversation.bot_id == BOT_ID
    assert any(o.conversation.conversation_id == CHANNEL.conversation_id for o in e2e.sender.sent)

    form = request.card
    assert form is not None
    data = first_submit_data(form) | valid_nomination(e2e.service._catalogue, "D028", "秘書課")

    # invalid: the same form comes back with the error under the field
    bad = data | {nominee_field("bpr", 1, "position"): ""}
    answer = invoke_card(await e2e.invoke(contact, verbs.NOMINATION_SUBMIT, bad))
    assert "職名" in (error_after(answer, nominee_field("bpr", 1, "position")) or "")
    assert await e2e.db.nominations.list_submissions(campaign.id) == []

    # valid, then the Teams retry of the same invoke: one stored submission
    for _ in range(2):
        receipt = invoke_card(await e2e.invoke(contact, verbs.NOMINATION_SUBMIT, data, activity_id="inv-ok"))
        assert "推薦を受け付けました" in card_text(receipt)
    [stored] = await e2e.db.nominations.list_submissions(campaign.id)
    assert stored.version == 1 and stored.department_code == "D028"

    # someone who is not the department's contact
    refused = invoke_card(await e2e.invoke(STAFF, verbs.NOMINATION_SUBMIT, data))
    assert "担当者だけ" in card_text(refused)

    # withdraw
    gone = invoke_card(
        await e2e.invoke(
            contact, verbs.NOMINATION_WITHDRAW, {"campaign_id": campaign.id, "department_code": "D028"}
        )
    )
    assert "取り下げました" in card_text(gone)
    assert await e2e.db.nominations.list_submissions(campaign.id) == []

    # the admin's status card
    e2e.sender.clear()
    assert await e2e.say(ADMIN, "状況") == 200
    [status] = [o for o in e2e.sender.sent if o.card and "提出状況" in card_text(o.card)]
    assert (
        status.card is not None and status.card["refresh"]["action"]["verb"] == verbs.CAMPAIGN_STATUS_REFRESH
    )
