"""Run by test_durability in a subprocess: submits nominations one by one and prints an
acknowledgement after each ``submit`` (or ``submit_form``, every other one) returns, until it
is killed."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.storage import Database, Nominee


async def main(url: str, campaign_id: str) -> None:
    db = Database.connect(url)
    campaign = await db.nominations.get_campaign(campaign_id)
    assert campaign is not None
    now = datetime.now(UTC)
    nominees = [Nominee("前橋 花子", "aad-hanako")]
    for index, wg_id in enumerate(campaign.wg_ids):
        if index % 2:  # the path the service takes: a form in one transaction
            await db.nominations.submit_form(
                campaign_id, "somu", [(wg_id, nominees)], by="aad-c", idempotency_key="form", now=now
            )
        else:
            await db.nominations.submit(
                campaign_id, "somu", wg_id, nominees, by="aad-c", idempotency_key=wg_id, now=now
            )
        await db.activity_claims.claim(f"activity-{wg_id}")
        sys.stdout.write(f"ack {wg_id}\n")
        sys.stdout.flush()
    await asyncio.sleep(60)  # the test kills us long before


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
