"""The dashboard's signed cookies (``bot.signing`` under the dashboard's name)."""

from __future__ import annotations

import pytest

from bot.dashboard.session import BadSignature, CookieSigner
from tests.dashboard.helpers import SESSION_SECRET


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_cookie_round_trips_until_it_expires() -> None:
    clock = Clock()
    signer = CookieSigner(SESSION_SECRET, clock=clock)
    value = signer.sign("dashboard_session", {"oid": "x", "csrf": "y"}, 60)
    assert signer.verify("dashboard_session", value) == {"oid": "x", "csrf": "y", "exp": 1_800_000_060}
    clock.now += 60
    assert signer.verify("dashboard_session", value) is None
    with pytest.raises(BadSignature, match="expired"):
        signer.unsign("dashboard_session", value)


def test_a_cookie_is_bound_to_its_purpose_and_secret() -> None:
    value = CookieSigner(SESSION_SECRET).sign("dashboard_signin", {"flow": {}}, 60)
    assert CookieSigner(SESSION_SECRET).verify("dashboard_session", value) is None
    assert CookieSigner(b"x" * 32).verify("dashboard_signin", value) is None
    assert CookieSigner(SESSION_SECRET).verify("dashboard_signin", value) is not None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "v1.abc.é",  # non-ASCII: once a TypeError in hmac.compare_digest
        "v1.é.abc",
        "v1.abc.トークン",
        "v2.abc.def",
        "v1.abc",
        "v1.a.b.c",
        "v1..",
        "\udcff.a.b",
    ],
)
def test_anything_else_is_none(value: str | None) -> None:
    assert CookieSigner(SESSION_SECRET).verify("dashboard_session", value) is None


def test_a_tampered_cookie_is_none() -> None:
    signer = CookieSigner(SESSION_SECRET)
    version, body, mac = signer.sign("dashboard_session", {"oid": "x"}, 60).split(".")
    forged = signer.sign("dashboard_session", {"oid": "admin"}, 60).split(".")[1]
    assert signer.verify("dashboard_session", f"{version}.{forged}.{mac}") is None
    assert signer.verify("dashboard_session", f"{version}.{body}.{mac[:-2]}") is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="dashboard session secret"):
        CookieSigner(b"short")
