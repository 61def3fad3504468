"""An acknowledged write survives the process being killed (SIGKILL) right after it returned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.storage import Database, Department

REPO_ROOT = Path(__file__).resolve().parents[2]
WG_IDS = [f"wg-{i:03d}" for i in range(400)]
KILL_AFTER = 25


def _run_writer_and_kill(url: str, campaign_id: str) -> list[str]:
    """Start the writer, SIGKILL it as soon as the KILL_AFTER-th acknowledgement arrives."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.durable_writer", url, campaign_id],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert writer.stdout is not None
    acknowledged: list[str] = []
    try:
        for line in writer.stdout:
            acknowledged.append(line.split()[1])
            if len(acknowledged) == KILL_AFTER:
                os.kill(writer.pid, signal.SIGKILL)  # mid-stream: the next write is under way
                break
    finally:
        writer.kill()
        _, err = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL, err
    assert len(acknowledged) == KILL_AFTER, err
    return acknowledged


async def test_acknowledged_submissions_survive_sigkill(database_url: str, db: Database) -> None:
    await db.nominations.upsert_departments([Department("somu", "総務課", ("aad-c",))])
    now = datetime.now(UTC)
    campaign = await db.nominations.create_campaign(
        fiscal_year=2026,
        wg_ids=WG_IDS,
        opens_at=now - timedelta(days=1),
        deadline=now + timedelta(days=1),
        reminder_schedule=[],
        created_by="aad-admin",
    )
    await db.close()  # nothing of ours holds the database while the writer runs

    acknowledged = _run_writer_and_kill(database_url, campaign.id)

    after = Database.connect(database_url)
    try:
        stored = {s.wg_id for s in await after.nominations.list_submissions(campaign.id)}
        assert set(acknowledged) <= stored
        # The next submission may have committed without being acknowledged; no more than that.
        assert len(stored) - len(acknowledged) in (0, 1)
        assert await after.activity_claims.claim_many([f"activity-{wg}" for wg in acknowledged]) == set()
    finally:
        await after.close()
