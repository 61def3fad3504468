"""WG campaign progress for the dashboard, read from the nominations repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.dashboard.config import CampaignProgress, CampaignStatusProvider
from bot.storage.ports import Campaign, CampaignStatus, WgStatus


class CampaignReader(Protocol):
    """The part of ``Nominations`` the dashboard reads."""

    async def list_campaigns(self, status: CampaignStatus | None = None) -> list[Campaign]:
        """Campaigns, newest first."""
        ...

    async def status(self, campaign_id: str) -> list[WgStatus]:
        """Per WG: departments that submitted and those still missing."""
        ...


def campaign_status_from(nominations: CampaignReader, *, latest: int = 2) -> CampaignStatusProvider:
    """A provider showing the ``latest`` campaigns' progress per WG (counts only, no names)."""

    async def provide() -> Sequence[CampaignProgress]:
        result = []
        for campaign in (await nominations.list_campaigns())[:latest]:
            for wg in await nominations.status(campaign.id):
                result.append(
                    CampaignProgress(
                        campaign_id=campaign.id,
                        fiscal_year=campaign.fiscal_year,
                        wg_id=wg.wg_id,
                        submitted=len(wg.submitted),
                        expected=len(wg.submitted) + len(wg.missing),
                        applications=wg.applications,
                        deadline=campaign.deadline,
                        status=campaign.status,
                    )
                )
        return result

    return provide
