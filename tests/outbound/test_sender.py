"""TeamsSender: deliveries, targeted messages and their fallbacks, update/delete, the queue."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.domain import ConversationRef, Delivery, Outgoing, Person
from bot.ports import OutboundSender, SendResult
from bot.teams.outbound import (
    ConnectorClient,
    KeepAliveHttp,
    RateLimits,
    RetryPolicy,
    SendLimiter,
    TeamsSender,
    TokenProvider,
)
from tests.harness.fake_connector import FakeConnector, RecordedRequest
from tests.outbound.conftest import BOT_ID, Metrics

TENANT = "tenant-maebashi"
CHANNEL = "19:general@thread.tacv2"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "ヒント"}]}
ALICE = Person(teams_id="29:alice", aad_object_id="aad-alice", name="Alice")


def channel(service_url: str, *, root: str | None = None, bot_id: str = BOT_ID) -> ConversationRef:
    return ConversationRef(
        conversation_id=CHANNEL if root is None else f"{CHANNEL};messageid={root}",
        kind="channel",
        service_url=service_url,
        tenant_id=TENANT,
        bot_id=bot_id,
        team_id="19:team@thread.tacv2",
        channel_id=CHANNEL,
        thread_root_id=root,
    )


def nudge(conversation: ConversationRef, **kwargs: object) -> Outgoing:
    values: dict[str, object] = {
        "conversation": conversation,
        "card": CARD,
        "delivery": Delivery.TARGETED,
        "recipient": ALICE,
        "fallback": (Delivery.PERSONAL, Delivery.LOG_ONLY),
        "tag": "nudge:1",
    }
    values.update(kwargs)
    return Outgoing(**values)  # type: ignore[arg-type]


@dataclass
class ConversationStore:
    """The storage callbacks as plain dict operations (storage itself is another package)."""

    known: dict[str, ConversationRef] = field(default_factory=dict)
    remembered: list[tuple[str, ConversationRef]] = field(default_factory=list)

    async def lookup(self, key: str) -> ConversationRef | None:
        return self.known.get(key)

    async def remember(self, key: str, ref: ConversationRef) -> None:
        self.remembered.append((key, ref))
        self.known[key] = ref


@pytest.fixture
def store() -> ConversationStore:
    return ConversationStore()


@pytest.fixture
def sent() -> list[tuple[str, SendResult]]:
    return []


@pytest.fixture
def client(http: KeepAliveHttp, tokens: TokenProvider) -> ConnectorClient:
    fast = RateLimits(
        per_conversation_rate=1000, per_conversation_burst=100, global_rate=1000, global_burst=100
    )
    return ConnectorClient(
        http,
        tokens.get_token,
        limiter=SendLimiter(fast),
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.02),
    )


@pytest.fixture
async def sender(
    client: ConnectorClient, store: ConversationStore, sent: list[tuple[str, SendResult]]
) -> AsyncIterator[TeamsSender]:
    teams = TeamsSender(
        client,
        bot_id=BOT_ID,
        personal_conversation_lookup=store.lookup,
        remember_personal_conversation=store.remember,
        on_sent=lambda tag, result: sent.append((tag, result)),
    )
    yield teams
    await teams.stop(drain=False)


def targeted_posts(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.method == "POST" and r.targeted]


def test_teams_sender_is_an_outbound_sender(sender: TeamsSender) -> None:
    assert isinstance(sender, TeamsSender)
    _: OutboundSender = sender


async def test_targeted_message_goes_to_the_sender_alone(
    connector: FakeConnector, sender: TeamsSender, sent: list[tuple[str, SendResult]]
) -> None:
    result = await sender.send(nudge(channel(connector.service_url)))
    assert result.ok and result.delivered_via is Delivery.TARGETED and result.activity_id
    (request,) = connector.requests
    assert request.method == "POST"
    assert request.conversation_id == CHANNEL and request.path.endswith("/activities")
    assert request.query == {"isTargetedActivity": "true"}
    assert request.body["recipient"] == {"id": "29:alice", "name": "Alice", "aadObjectId": "aad-alice"}
    assert request.body["attachments"] == [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}
    ]
    assert request.bearer
    assert sent == [("nudge:1", result)]


async def test_targeted_in_a_thread_stays_in_the_thread(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    result = await sender.send(nudge(channel(connector.service_url, root="1700")))
    assert result.ok
    assert connector.requests[0].conversation_id == f"{CHANNEL};messageid=1700"
    assert connector.requests[0].targeted


@pytest.mark.parametrize("status", [400, 403, 404, 405, 501])
async def test_refused_targeted_falls_back_to_a_new_personal_chat(
    status: int, connector: FakeConnector, sender: TeamsSender, store: ConversationStore
) -> None:
    connector.refuse_targeted = status
    result = await sender.send(nudge(channel(connector.service_url)))
    assert result.ok and result.delivered_via is Delivery.PERSONAL
    refused, create, post = connector.requests
    assert refused.targeted and refused.status == status
    assert create.method == "POST" and create.path == "/v3/conversations"
    assert create.body["bot"] == {"id": BOT_ID}
    assert create.body["members"] == [{"id": "29:alice"}]
    assert create.body["channelData"] == {"tenant": {"id": TENANT}} and create.body["tenantId"] == TENANT
    personal_id = connector.conversations["29:alice"]
    assert post.conversation_id == personal_id and not post.targeted and "recipient" not in post.body
    assert store.remembered == [
        ("aad-alice", ConversationRef(personal_id, "personal", connector.service_url, TENANT, BOT_ID))
    ]


async def test_fallback_uses_the_stored_personal_chat(
    connector: FakeConnector, sender: TeamsSender, store: ConversationStore
) -> None:
    store.known["aad-alice"] = ConversationRef("a:stored", "personal", connector.service_url, TENANT, BOT_ID)
    connector.refuse_targeted = 403
    result = await sender.send(nudge(channel(connector.service_url)))
    assert result.ok and result.delivered_via is Delivery.PERSONAL
    assert [r.conversation_id for r in connector.requests] == [CHANNEL, "a:stored"]
    assert store.remembered == []


async def test_stale_stored_personal_chat_is_recreated(
    connector: FakeConnector, sender: TeamsSender, store: ConversationStore
) -> None:
    store.known["aad-alice"] = ConversationRef("a:gone", "personal", connector.service_url, TENANT, BOT_ID)
    connector.fail_next(404, 1, match=lambda r: r.conversation_id == "a:gone")
    result = await sender.send(nudge(channel(connector.service_url), delivery=Delivery.PERSONAL))
    assert result.ok and result.delivered_via is Delivery.PERSONAL
    assert [r.path for r in connector.requests][1] == "/v3/conversations"
    assert store.known["aad-alice"].conversation_id == connector.conversations["29:alice"]


async def test_targeted_disabled_goes_straight_to_personal(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    sender.targeted_enabled = False
    result = await sender.send(nudge(channel(connector.service_url)))
    assert result.delivered_via is Delivery.PERSONAL and result.ok
    assert targeted_posts(connector.requests) == []


async def test_when_no_personal_chat_is_possible_the_thread_reply_is_next(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    connector.refuse_targeted = 403
    connector.fail_next(403, 1, match=lambda r: r.path == "/v3/conversations")
    outgoing = nudge(
        channel(connector.service_url, root="1700"), fallback=(Delivery.PERSONAL, Delivery.THREAD)
    )
    result = await sender.send(outgoing)
    assert result.ok and result.delivered_via is Delivery.THREAD
    thread_reply = connector.requests[-1]
    assert thread_reply.conversation_id == f"{CHANNEL};messageid=1700" and thread_reply.activity_id == "1700"
    assert not thread_reply.targeted and thread_reply.body["replyToId"] == "1700"


async def test_log_only_is_the_last_resort(connector: FakeConnector, sender: TeamsSender) -> None:
    connector.refuse_targeted = 403
    result = await sender.send(
        nudge(channel(connector.service_url, bot_id=""), fallback=(Delivery.LOG_ONLY,))
    )
    assert result.ok and result.delivered_via is Delivery.LOG_ONLY and result.activity_id is None
    assert len(connector.requests) == 1


async def test_transient_failure_does_not_fall_back(connector: FakeConnector, sender: TeamsSender) -> None:
    connector.fail_next(503, 10)
    result = await sender.send(nudge(channel(connector.service_url)))
    assert not result.ok and result.status == 503 and result.delivered_via is Delivery.TARGETED
    assert all(r.targeted for r in connector.requests)


async def test_in_a_personal_chat_targeted_is_a_plain_reply(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    personal = ConversationRef("a:1on1", "personal", connector.service_url, TENANT, BOT_ID)
    result = await sender.send(nudge(personal))
    assert result.ok and result.delivered_via is Delivery.REPLY
    (request,) = connector.requests
    assert request.conversation_id == "a:1on1" and not request.targeted and "recipient" not in request.body


async def test_reply_in_thread_and_top_level(connector: FakeConnector, sender: TeamsSender) -> None:
    text_reply = Outgoing(conversation=channel(connector.service_url, root="1700"), text="ようこそ")
    top_level = Outgoing(conversation=channel(connector.service_url), card=CARD)
    assert (await sender.send(text_reply)).ok
    assert (await sender.send(top_level)).ok
    thread, top = connector.requests
    assert (
        thread.activity_id == "1700"
        and thread.body["text"] == "ようこそ"
        and "attachments" not in thread.body
    )
    assert top.conversation_id == CHANNEL and top.path.endswith("/activities")


async def test_refused_public_reply_is_not_turned_into_a_dm(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    connector.fail_next(403, 1)
    result = await sender.send(
        Outgoing(conversation=channel(connector.service_url), text="x", recipient=ALICE)
    )
    assert not result.ok and result.status == 403
    assert len(connector.requests) == 1


async def test_update_targeted_in_place(connector: FakeConnector, sender: TeamsSender) -> None:
    done = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "ありがとう"}]}
    result = await sender.send(
        nudge(channel(connector.service_url), card=done, replaces_activity_id="1700123")
    )
    assert result.ok and result.activity_id == "1700123"
    (request,) = connector.requests
    assert request.method == "PUT" and request.activity_id == "1700123" and request.targeted
    assert "recipient" not in request.body and request.body["id"] == "1700123"
    assert request.body["attachments"][0]["content"] == done


async def test_delete_targeted(connector: FakeConnector, sender: TeamsSender) -> None:
    result = await sender.send(nudge(channel(connector.service_url), delete_activity_id="1700999"))
    assert result.ok
    (request,) = connector.requests
    assert (request.method, request.activity_id, request.targeted) == ("DELETE", "1700999", True)


async def test_update_and_delete_of_a_personal_fallback_use_the_stored_chat(
    connector: FakeConnector, sender: TeamsSender, store: ConversationStore
) -> None:
    store.known["aad-alice"] = ConversationRef("a:dm", "personal", connector.service_url, TENANT, BOT_ID)
    origin = channel(connector.service_url)
    assert (await sender.send(nudge(origin, delivery=Delivery.PERSONAL, replaces_activity_id="55"))).ok
    assert (await sender.send(nudge(origin, delivery=Delivery.PERSONAL, delete_activity_id="55"))).ok
    assert [(r.method, r.conversation_id, r.targeted) for r in connector.requests] == [
        ("PUT", "a:dm", False),
        ("DELETE", "a:dm", False),
    ]


async def test_enqueue_never_blocks_and_says_false_when_full(
    connector: FakeConnector, client: ConnectorClient, metrics: Metrics
) -> None:
    teams = TeamsSender(
        client,
        bot_id=BOT_ID,
        queue_size=5,
        workers=2,
        queue_depth_gauge=metrics.app.outgoing_queue_depth,
    )
    outgoing = Outgoing(conversation=channel(connector.service_url), text="x")
    started = time.perf_counter()
    accepted = [teams.enqueue(outgoing) for _ in range(8)]
    assert time.perf_counter() - started < 0.05
    assert accepted == [True] * 5 + [False] * 3
    assert metrics.value("outgoing_rejected_total") == 0  # the caller counts what it drops
    assert metrics.value("outgoing_queue_depth") == 5
    await teams.start()
    await teams.stop(drain=True, timeout_s=5)
    assert len(connector.requests) == 5
    assert metrics.value("outgoing_queue_depth") == 0
    assert not teams.enqueue(outgoing)  # stopped


async def test_workers_send_in_the_background(
    connector: FakeConnector, sender: TeamsSender, sent: list[tuple[str, SendResult]]
) -> None:
    await sender.start()
    for i in range(6):
        assert sender.enqueue(nudge(channel(connector.service_url), tag=f"nudge:{i}"))
    await connector.wait_for(lambda rs: len(rs) == 6)
    await asyncio.sleep(0.05)
    assert sorted(tag for tag, _ in sent) == [f"nudge:{i}" for i in range(6)]
    assert all(result.ok and result.activity_id for _, result in sent)


async def test_on_sent_failure_does_not_break_sending(
    connector: FakeConnector, client: ConnectorClient
) -> None:
    async def broken(tag: str, result: SendResult) -> None:
        raise RuntimeError("storage down")

    teams = TeamsSender(client, bot_id=BOT_ID, on_sent=broken)
    assert (await teams.send(nudge(channel(connector.service_url)))).ok


async def test_personal_delivery_inside_a_personal_chat_replies_there(
    connector: FakeConnector, sender: TeamsSender, store: ConversationStore
) -> None:
    personal = ConversationRef("a:1on1", "personal", connector.service_url, TENANT, BOT_ID)
    result = await sender.send(nudge(personal, delivery=Delivery.PERSONAL))
    assert result.ok and result.delivered_via is Delivery.PERSONAL
    assert [r.conversation_id for r in connector.requests] == ["a:1on1"]


async def test_nothing_to_send_is_not_sent(connector: FakeConnector, sender: TeamsSender) -> None:
    result = await sender.send(Outgoing(conversation=channel(connector.service_url)))
    assert not result.ok and connector.requests == []


async def test_the_body_goes_as_utf8_json_not_as_unicode_escapes(
    connector: FakeConnector, sender: TeamsSender
) -> None:
    await sender.send(nudge(channel(connector.service_url)))
    (request,) = connector.requests
    assert request.headers["Content-Type"].split(";")[0] == "application/json"
    assert request.body["attachments"][0]["content"]["body"][0]["text"] == "ヒント"
    # compact UTF-8: a \uXXXX escape would take six bytes for each of the three characters
    assert int(request.headers["Content-Length"]) == len(
        json.dumps(request.body, ensure_ascii=False, separators=(",", ":")).encode()
    )
