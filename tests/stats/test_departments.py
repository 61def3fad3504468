"""Departments through the real GraphClient against the HTTPS Graph and Entra stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.graph import GraphClient
from bot.stats import UNKNOWN_DEPARTMENT, DepartmentResolver
from bot.teams.outbound import GRAPH_SCOPE, TokenProvider, make_http_session
from tests.harness.entra import EntraStandIn
from tests.harness.graph import GraphStandIn
from tests.harness.tls import shared_test_ca

APP_ID = "11111111-2222-3333-4444-555555555555"
APP_SECRET = "graph-test-secret"


class Stack:
    def __init__(self, entra: EntraStandIn, graph: GraphStandIn, client: GraphClient) -> None:
        self.entra, self.graph, self.client = entra, graph, client


@pytest.fixture
async def stack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    ca = shared_test_ca()
    for key, value in ca.env().items():
        monkeypatch.setenv(key, value)
    async with (
        EntraStandIn(client_id=APP_ID, client_secret=APP_SECRET, tls=ca) as entra,
        GraphStandIn(tls=ca, token_validator=lambda t: entra.is_valid(t, GRAPH_SCOPE)) as graph,
    ):
        tokens = TokenProvider(
            APP_ID, APP_SECRET, tenant="city", authority=entra.authority("city"), scope=GRAPH_SCOPE
        )
        session = make_http_session()
        try:
            yield Stack(entra, graph, GraphClient(session, tokens.get_token, base_url=graph.base_url))
        finally:
            await session.close()
            tokens.close()


# (the user in Graph: department or absent, aad id asked, expected answer)
CASES = [
    ("a department", {"aad-1": "情報政策課"}, "aad-1", "情報政策課"),
    ("empty department", {"aad-2": ""}, "aad-2", UNKNOWN_DEPARTMENT),
    ("no department attribute", {"aad-3": None}, "aad-3", UNKNOWN_DEPARTMENT),
    ("unknown user", {}, "aad-4", UNKNOWN_DEPARTMENT),
    ("no Entra id at all", {}, None, UNKNOWN_DEPARTMENT),
]


@pytest.mark.parametrize(("case", "users", "aad_id", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_department_answers(
    stack: Stack, case: str, users: dict[str, str | None], aad_id: str | None, expected: str
) -> None:
    for user_id, department in users.items():
        stack.graph.add_user(user_id, department)
    resolver = DepartmentResolver(stack.client.user_department, timeout_s=5.0)
    assert await resolver.resolve(aad_id) == expected, case


async def test_cached_after_the_first_look_up(stack: Stack) -> None:
    stack.graph.add_user("aad-1", "財政課")
    resolver = DepartmentResolver(stack.client.user_department, timeout_s=5.0)
    assert [await resolver.resolve("aad-1") for _ in range(5)] == ["財政課"] * 5
    assert resolver.lookups == 1


async def test_a_slow_look_up_does_not_hold_the_message_and_lands_later(stack: Stack) -> None:
    stack.graph.add_user("aad-slow", "税務課")
    stack.entra.response_delay_s = 0.4  # the first Graph token is slow to come
    resolver = DepartmentResolver(stack.client.user_department, timeout_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await resolver.resolve("aad-slow") == UNKNOWN_DEPARTMENT
    assert loop.time() - started < 0.3
    for _ in range(100):
        if resolver.cached("aad-slow") is not None:
            break
        await asyncio.sleep(0.02)
    assert await resolver.resolve("aad-slow") == "税務課"
    assert resolver.lookups == 1


async def test_graph_failure_is_unknown_and_retried_soon(stack: Stack) -> None:
    stack.graph.add_user("aad-5", "財政課")
    stack.graph.fail_next(503, 1)
    now = [0.0]
    resolver = DepartmentResolver(stack.client.user_department, timeout_s=5.0, clock=lambda: now[0])
    assert await resolver.resolve("aad-5") == UNKNOWN_DEPARTMENT
    now[0] += 301  # past the short failure TTL
    assert await resolver.resolve("aad-5") == "財政課"
