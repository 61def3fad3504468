"""Campaign timing and the per-WG progress behind the status card and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.wg import samples
from wg.campaign import campaign_status, nendo_label


@pytest.mark.parametrize(
    ("year", "label"), [(2023, "令和5年度"), (2019, "令和元年度".replace("元", "1")), (2026, "令和8年度")]
)
def test_nendo_label(year: int, label: str) -> None:
    assert nendo_label(year) == label


@pytest.mark.parametrize(
    ("offset", "state", "accepting"),
    [
        (timedelta(0), "open", True),
        (samples.DEADLINE - samples.OPENS - timedelta(seconds=1), "open", True),
        (samples.DEADLINE - samples.OPENS, "open", False),
        (-timedelta(seconds=1), "open", False),
        (timedelta(days=1), "closed", False),
        (timedelta(days=1), "draft", False),
    ],
)
def test_accepting(offset: timedelta, state: str, accepting: bool) -> None:
    assert samples.campaign(state=state).accepting(samples.OPENS + offset) is accepting


def test_status_lists_submitted_and_missing_per_wg() -> None:
    status = campaign_status(
        samples.campaign(),
        samples.catalogue(),
        samples.directory(),
        {"seido-digital": {"D001", "D004"}, "bpr": {"D004"}},
        {"mirise": 2},
        now=samples.DURING,
    )
    by_id = {p.wg_id: p for p in status.wgs}
    assert list(by_id) == [wg.id for wg in samples.catalogue()]
    assert by_id["seido-digital"].submitted == ("行政管理課", "情報政策課")
    assert by_id["seido-digital"].missing == ("財政課", "会計室")
    assert by_id["bpr"].expected == len(samples.directory()) and by_id["bpr"].submitted == ("情報政策課",)
    assert by_id["mirise"].applications == 2
    assert by_id["chiiki-dx"].applications is None and by_id["chiiki-dx"].note == "募集は別途案内"
