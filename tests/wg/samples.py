"""Sample campaign, departments and submissions shared by the card and WG tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from wg.campaign import Campaign
from wg.catalogue import Catalogue, load_catalogue
from wg.departments import Department, DepartmentDirectory, load_departments
from wg.forms import Nomination, Nominee, OpenApplication

OPENS = datetime(2023, 4, 20, 0, 0, tzinfo=UTC)
DEADLINE = datetime(2023, 5, 12, 8, 0, tzinfo=UTC)  # 17:00 JST
DURING = datetime(2023, 5, 1, 3, 0, tzinfo=UTC)

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
CAROL = "33333333-3333-4333-8333-333333333333"
SUBMITTER = "44444444-4444-4444-8444-444444444444"


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue."""
    return load_catalogue()


def department(code: str) -> Department:
    """A department of the sample directory (the test fails if it is not there)."""
    found = directory().get(code)
    assert found is not None, code
    return found


@cache
def directory() -> DepartmentDirectory:
    """The shipped sample directory."""
    return load_departments()


def campaign(state: str = "open", deadline: datetime = DEADLINE) -> Campaign:
    """A 令和5年度 campaign with every WG."""
    return Campaign(
        id="fy2023",
        fiscal_year=2023,
        wg_ids=tuple(wg.id for wg in catalogue()),
        opens_at=OPENS,
        deadline=deadline,
        reminders=(deadline - timedelta(days=3),),
        state=state,  # type: ignore[arg-type]
    )


def nomination(department_code: str = "D004") -> Nomination:
    """情報政策課 nominating for BPR and 制度デジタル化WG."""
    return Nomination(
        campaign_id="fy2023",
        department_code=department_code,
        nominees=(
            Nominee("bpr", "前橋 太郎", ALICE, "主任", True, "昨年度から継続"),
            Nominee("bpr", "赤城 花子", BOB, "主事", False),
            Nominee("seido-digital", "榛名 次郎", CAROL, "係長", False),
        ),
        submitted_by=SUBMITTER,
        submitted_at=DURING,
    )


def application() -> OpenApplication:
    """An application to ミライズWG."""
    return OpenApplication(
        campaign_id="fy2023",
        wg_id="mirise",
        applicant_aad_id=ALICE,
        name="前橋 太郎",
        department_code="D001",
        position="主事",
        themes=("複業", "ピアボーナス"),
        motivation="=職員の挑戦を応援する仕組みを作りたいです。",
        supervisor_agreed=True,
        submitted_at=DURING,
    )
