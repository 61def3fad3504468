"""Stand-ins for the outbound tests: test CA trusted via the usual env vars, Entra, connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from bot.metrics import Metrics as AppMetrics
from bot.teams.outbound import (
    BOT_FRAMEWORK_SCOPE,
    KeepAliveHttp,
    TokenProvider,
    make_connector_http,
    make_http_session,
)
from tests.harness.entra import EntraStandIn
from tests.harness.fake_connector import FakeConnector
from tests.harness.tls import TestCA, shared_test_ca

APP_ID = "11111111-2222-3333-4444-555555555555"
APP_SECRET = "s3cret-for-tests"
BOT_ID = f"28:{APP_ID}"


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return shared_test_ca()


@pytest.fixture
def ca_env(test_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> TestCA:
    """Trust the test CA the production way: REQUESTS_CA_BUNDLE / SSL_CERT_FILE."""
    for key, value in test_ca.env().items():
        monkeypatch.setenv(key, value)
    return test_ca


@pytest.fixture
async def entra(ca_env: TestCA) -> AsyncIterator[EntraStandIn]:
    async with EntraStandIn(client_id=APP_ID, client_secret=APP_SECRET, tls=ca_env) as server:
        yield server


@pytest.fixture
async def connector(ca_env: TestCA, entra: EntraStandIn) -> AsyncIterator[FakeConnector]:
    """A fake Bot Connector that only accepts Bot Framework tokens issued by the Entra stand-in."""
    fake = FakeConnector(tls=ca_env, token_validator=lambda t: entra.is_valid(t, BOT_FRAMEWORK_SCOPE))
    async with fake:
        yield fake


@pytest.fixture
async def session(ca_env: TestCA) -> AsyncIterator[aiohttp.ClientSession]:
    """The production session for Graph calls."""
    client = make_http_session()
    yield client
    await client.close()


@pytest.fixture
async def http(ca_env: TestCA) -> AsyncIterator[KeepAliveHttp]:
    """The production Bot Connector client (built after the test CA is trusted)."""
    client = make_connector_http()
    yield client
    await client.close()


@pytest.fixture
def tokens(entra: EntraStandIn) -> Iterator[TokenProvider]:
    provider = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())
    yield provider
    provider.close()


class Metrics:
    """The app's real metrics (bot/metrics.py) plus a sample reader."""

    def __init__(self) -> None:
        self.app = AppMetrics()
        self.calls = self.app.outgoing_calls_total
        self.retries = self.app.outgoing_retries_total

    def value(self, name: str, **labels: str) -> float:
        return self.app.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()
