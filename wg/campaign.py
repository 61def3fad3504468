"""A yearly nomination campaign and its progress, as plain frozen data."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from wg.catalogue import Catalogue
from wg.departments import DepartmentDirectory

CampaignState = Literal["draft", "open", "closed"]
JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time


def nendo_label(fiscal_year: int) -> str:
    """The Japanese fiscal-year label, e.g. 2023 -> 令和5年度."""
    return f"令和{fiscal_year - 2018}年度" if fiscal_year >= 2019 else f"{fiscal_year}年度"


@dataclass(frozen=True, slots=True)
class Campaign:
    """One year's nomination round: which WGs, when it opens and closes, when to remind."""

    id: str
    fiscal_year: int
    wg_ids: tuple[str, ...]
    opens_at: datetime
    deadline: datetime
    reminders: tuple[datetime, ...] = ()
    state: CampaignState = "open"

    @property
    def title(self) -> str:
        """How cards name the campaign, e.g. 令和5年度WGメンバーの選出."""
        return f"{nendo_label(self.fiscal_year)}WGメンバーの選出"

    def accepting(self, now: datetime) -> bool:
        """Whether submissions, edits and withdrawals are accepted at ``now``."""
        return self.state == "open" and self.opens_at <= now < self.deadline


@dataclass(frozen=True, slots=True)
class WgProgress:
    """Who has and has not answered for one WG (department names, in directory order)."""

    wg_id: str
    wg_name: str
    submitted: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    applications: int | None = None  # open-application WGs count applications instead
    note: str = ""  # e.g. a WG whose recruitment is announced separately

    @property
    def expected(self) -> int:
        """How many departments are asked to answer."""
        return len(self.submitted) + len(self.missing)


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    """A campaign's progress across its WGs, for the admins' status card."""

    campaign: Campaign
    wgs: tuple[WgProgress, ...]
    as_of: datetime


def campaign_status(
    campaign: Campaign,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    submitted: Mapping[str, Set[str]],
    application_counts: Mapping[str, int] | None = None,
    *,
    now: datetime,
) -> CampaignStatus:
    """Compute per-WG submitted and missing departments from the codes that have submitted per WG."""
    progress = []
    for wg in catalogue:
        if wg.id not in campaign.wg_ids:
            continue
        if wg.separate_recruitment:
            progress.append(WgProgress(wg.id, wg.name, note="募集は別途案内"))
            continue
        if not wg.is_nominated_by_departments:
            count = (application_counts or {}).get(wg.id, 0)
            progress.append(WgProgress(wg.id, wg.name, applications=count))
            continue
        done = submitted.get(wg.id, set())
        concerned = [d for d in directory if wg.concerns_department(d.name)]
        progress.append(
            WgProgress(
                wg.id,
                wg.name,
                submitted=tuple(d.name for d in concerned if d.code in done),
                missing=tuple(d.name for d in concerned if d.code not in done),
            )
        )
    return CampaignStatus(campaign, tuple(progress), now)
