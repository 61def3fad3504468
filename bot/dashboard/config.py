"""The dashboard's options, one typed object (the lead fills it from ``Settings``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DashboardConfig:
    """Who may open the dashboard and how they sign in."""

    session_secret: bytes
    """Key for the signed session cookie (at least 32 bytes; the same in every replica)."""

    admin_object_ids: frozenset[str] = frozenset()
    """Entra object ids (``oid``) of the people allowed in; everyone else gets 403."""

    client_id: str = ""
    """The Entra app used for sign-in (normally MicrosoftAppId); empty means local mode."""

    client_secret: str = ""
    """That app's client secret."""

    authority: str = ""
    """e.g. ``https://login.microsoftonline.com/<tenant id>`` (single tenant: the city's)."""

    redirect_uri: str | None = None
    """Public URL of ``/dashboard/auth/callback`` (registered on the app); None: from the request."""

    session_ttl_s: int = 8 * 3600
    """How long a sign-in lasts."""

    default_weeks: int = 12
    """The period shown when the page opens."""

    timezone: str = "Asia/Tokyo"
    """Where "today" is, for the default period."""

    def __post_init__(self) -> None:
        if len(self.session_secret) < 32:
            raise ValueError("DashboardConfig.session_secret must be at least 32 bytes")
        if self.client_id and not self.authority:
            raise ValueError("DashboardConfig.authority is required when client_id is set")
        object.__setattr__(
            self, "admin_object_ids", frozenset(oid.strip().lower() for oid in self.admin_object_ids)
        )

    @property
    def local_mode(self) -> bool:
        """No sign-in app: the page opens from loopback only, without sign-in."""
        return not self.client_id


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """One WG of a nomination campaign: how many departments have answered (no names)."""

    campaign_id: str
    fiscal_year: int
    wg_id: str
    submitted: int
    expected: int
    applications: int
    deadline: datetime | None = None
    status: str = "open"


CampaignStatusProvider = Callable[[], Awaitable[Sequence[CampaignProgress]]]
"""Returns the WG campaigns' progress for the dashboard (may be absent)."""
