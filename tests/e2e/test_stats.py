"""Statistics end to end: counted through the real endpoint, never the text; the digest once."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp

from bot.domain import ConversationRef
from bot.storage import Database
from tests.e2e.conftest import ALICE, BOB, start_stack, stop_stack
from tests.harness.fake_connector import FakeConnector
from tests.harness.tls import TestCA

ROOT = Path(__file__).resolve().parents[2]

# Distinctive texts, each with something a rule finds; none of it may reach the database.
MESSAGES = [
    ("お疲れ様です。ひまわり保育園の遠足は雨天延期になりました。", "channel"),
    ("かしこまりました！", "groupChat"),
    ("念のため、後ほどお電話ください。内容はすずらん公民館の件です。", "channel"),
    ("申請者の携帯は090-8765-4321、メールはtanpopo.kazoku@gmail.com です。", "channel"),
    ("コスモス図書館の貸出システムの手順を教えてください。", "personal"),
    ("第2会議室を15時から押さえました。", "channel"),
]
SECRETS = [
    "ひまわり保育園",
    "すずらん公民館",
    "090-8765-4321",
    "8765",
    "tanpopo.kazoku",
    "コスモス図書館",
    "第2会議室",
]


def database_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as stored on disk."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


async def test_messages_are_counted_and_no_text_is_stored(tmp_path: Path, test_ca: TestCA) -> None:
    stack = await start_stack(
        tmp_path, test_ca, STATS_FLUSH_INTERVAL_SECONDS="3600", DEPARTMENT_LOOKUP_TIMEOUT_SECONDS="5"
    )
    stack.graph.add_user(ALICE.aad, "情報政策課")  # BOB has no department in Entra
    try:
        for index, (text, kind) in enumerate(MESSAGES):
            sender = ALICE if index % 2 else BOB
            status, _ = await stack.post(stack.activity(text, kind=kind, sender=sender))
            assert status == 200
        await stack.settle(0.5)
    finally:
        await stop_stack(stack)  # a clean stop flushes the counters held in memory

    with sqlite3.connect(stack.database_path) as db:
        counts = dict(
            db.execute(
                "select metric, sum(n) from stats_daily where metric in ('messages', 'rule_hits', 'nudges') group by metric"
            ).fetchall()
        )
        rules = {
            row[0]
            for row in db.execute("select distinct rule_id from stats_daily where metric = 'rule_hits'")
        }
        departments = dict(
            db.execute(
                "select department, sum(n) from stats_daily where metric = 'messages' group by department"
            ).fetchall()
        )
    assert counts["messages"] == len(MESSAGES)
    # departments come from Entra through Graph (msal app token), unknown ones as 未設定
    assert departments == {"情報政策課": 3, "未設定": 3}
    assert {
        "formulaic-greeting",
        "written-ack",
        "chat-before-phone",
        "personal-info",
        "share-know-how",
    } <= rules
    assert counts["nudges"] >= 4
    stored = database_bytes(stack.database_path)
    for secret in SECRETS:
        assert secret.encode("utf-8") not in stored, f"{secret!r} reached the database"
    for person in (ALICE, BOB):
        assert person.name.encode("utf-8") not in stored  # display names are never stored


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_weekly_digest_is_posted_once_by_two_app_processes(tmp_path: Path) -> None:
    connector = await FakeConnector(tls=False).start()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    channel = "19:digest@thread.tacv2"
    database = Database.connect(database_url)
    try:
        await database.migrate()
        await database.conversations.remember(
            ConversationRef(
                conversation_id=channel,
                kind="channel",
                service_url=connector.service_url,
                tenant_id="t",
                channel_id=channel,
            )
        )
    finally:
        await database.close()

    ports = [free_port(), free_port()]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("Microsoft", "DIGEST", "DATABASE"))
    }
    environment |= {
        "DATABASE_URL": database_url,
        "DIGEST_CHANNEL_ID": channel,
        "DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "app.py",
            cwd=ROOT,
            env=environment | {"PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        async with aiohttp.ClientSession() as session:
            for port in ports:
                for _ in range(200):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"app on port {port} never became ready")
        await connector.wait_for(lambda requests: len(requests) >= 1, timeout_s=20)
        await asyncio.sleep(2)  # time for a second (wrong) post to show up
        posts = [r for r in connector.requests if r.method == "POST" and r.conversation_id == channel]
        assert len(posts) == 1
        card = posts[0].body["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard"
        assert card["version"] == "1.5"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), 20)
        await connector.stop()
