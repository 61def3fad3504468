"""Export: the file's content, the one-time download link, and the command line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.nominations.__main__ import main as cli
from bot.nominations.links import BadLink, LinkSigner
from bot.nominations.web import setup_export_routes
from cards import verbs
from tests.nominations.conftest import ADMIN, ON_BOTH_DATABASES, STAFF, Harness, contacts, first_submit_data
from tests.nominations.forms import valid_application, valid_nomination
from wg.export import COLUMNS

SECRET = "s" * 40


async def campaign_with_entries(h: Harness) -> str:
    await h.say("キャンペーン開始 2026 2026-05-15")
    form = h.sender.personal_to(contacts("D028")[0])[0].card
    assert form is not None
    data = first_submit_data(form) | valid_nomination(h.catalogue, "D028", "秘書課")
    data["bpr.1.note"] = '=HYPERLINK("x")'  # must not become a formula
    await h.click(verbs.NOMINATION_SUBMIT, data, sender=contacts("D028")[0])
    opened, _ = await h.click(
        verbs.APPLICATION_OPEN, {"campaign_id": "fy2026", "wg_id": "mirise"}, sender=STAFF
    )
    assert opened.card is not None
    await h.click(
        verbs.APPLICATION_SUBMIT, first_submit_data(opened.card) | valid_application(), sender=STAFF
    )
    return "fy2026"


async def test_csv_and_xlsx_content(harness: Harness) -> None:
    h = harness
    campaign_id = await campaign_with_entries(h)
    export = await h.service.export_file(campaign_id, "csv")
    assert export.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    body = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [(r["WG ID"], r["区分"], r["所属名"], r["氏名"]) for r in body] == [
        ("bpr", "推薦", "秘書課", "bpr 担当"),
        ("mirise", "公募", "行政管理課", "赤城 花子"),
    ]
    assert body[0]["備考"].startswith("'=")
    assert body[1]["テーマ"] == "複業、ピアボーナス" and body[1]["上司の了承"] == "了承済み"

    xlsx = await h.service.export_file(campaign_id, "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    names = [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert "bpr 担当" in names and "赤城 花子" in names


async def test_download_link_works_once_for_admins(harness: Harness) -> None:
    h = harness
    campaign_id = await campaign_with_entries(h)
    app = web.Application()
    signer = setup_export_routes(app, h.service, SECRET, job_runs=h.db.job_runs)
    [answer] = await h.say("エクスポート")
    assert answer.card is not None
    xlsx_url, csv_url = (a["url"] for a in answer.card["actions"])
    token = csv_url.rsplit("/", 1)[1]
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        base = str(server.make_url("/exports/"))
        async with session.get(base + token) as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert "秘書課" in (await response.read()).decode("utf-8-sig")
        async with session.get(base + token) as response:
            assert response.status == 410  # once only
        async with session.get(base + xlsx_url.rsplit("/", 1)[1]) as response:
            assert response.status == 200
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        async with session.get(base + forged) as response:
            assert response.status == 404
        async with session.get(base + signer.sign(campaign_id, "csv", STAFF)) as response:
            assert response.status == 403
        async with session.get(base + signer.sign("nope", "csv", ADMIN)) as response:
            assert response.status == 404
        async with session.get(base + "garbage") as response:
            assert response.status == 404


@pytest.mark.parametrize(
    "token",
    ["", "abc", "abc.def", "e30.x", "..", "a" * 2000],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadLink):
        LinkSigner(SECRET).verify(token)


def test_links_expire() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    signer = LinkSigner(SECRET, lifetime_s=600, clock=lambda: now)
    token = signer.sign("fy2026", "xlsx", ADMIN)
    assert signer.verify(token).campaign_id == "fy2026"
    later = LinkSigner(SECRET, lifetime_s=600, clock=lambda: now + timedelta(seconds=601))
    with pytest.raises(BadLink, match="expired"):
        later.verify(token)
    with pytest.raises(ValueError):
        LinkSigner("short")


@pytest.mark.parametrize("token", ["v1.abc.é", "é.x", "v1.e30.トークン", "v1." + "[" * 900 + ".x"])
def test_odd_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadLink):
        LinkSigner(SECRET).verify(token)


def test_a_value_signed_for_something_else_is_not_a_link() -> None:
    from bot.signing import Signer

    other = Signer(SECRET.encode()).sign(
        "dashboard_session", {"c": "fy2026", "f": "csv", "a": ADMIN, "n": "x"}, 600
    )
    with pytest.raises(BadLink, match="bad signature"):
        LinkSigner(SECRET).verify(other)


@pytest.mark.parametrize(("lifetime_s", "shown"), [(120, "有効期限（2分）"), (90, "有効期限（90秒）")])
async def test_a_refused_link_names_the_real_lifetime(harness: Harness, lifetime_s: int, shown: str) -> None:
    app = web.Application()
    setup_export_routes(app, harness.service, SECRET, job_runs=harness.db.job_runs, lifetime_s=lifetime_s)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        for token in ("garbage", "v1.abc.%C3%A9", "%C3%A9.x"):
            async with session.get(str(server.make_url("/exports/")) + token) as response:
                assert response.status == 404, token
                assert shown in await response.text()


@ON_BOTH_DATABASES
async def test_command_line_import_and_export(
    harness: Harness,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = harness
    await campaign_with_entries(h)
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "out" / "推薦.csv"
    # asyncio.run inside a running loop is not allowed: run the CLI in a thread
    import asyncio

    assert (
        await asyncio.to_thread(cli, ["export", "--campaign", "fy2026", "--format", "csv", "--out", str(out)])
        == 0
    )
    assert "秘書課" in out.read_bytes().decode("utf-8-sig")
    assert f"{out} に書き出しました（CSV、" in capsys.readouterr().out
    xlsx = tmp_path / "推薦.xlsx"
    assert (
        await asyncio.to_thread(
            cli, ["export", "--campaign", "fy2026", "--format", "xlsx", "--out", str(xlsx)]
        )
        == 0
    )
    assert openpyxl.load_workbook(xlsx).worksheets
    assert (
        await asyncio.to_thread(cli, ["export", "--campaign", "nope", "--format", "csv", "--out", str(out)])
        == 1
    )
    assert "fy2026" in capsys.readouterr().err

    directory = tmp_path / "departments.csv"
    directory.write_text(
        "\ufeffcode,name,contacts\nD001,行政管理課,cccccccc-0000-4000-8000-000000000001\nD900,新設課,\n",
        encoding="utf-8",
    )
    assert await asyncio.to_thread(cli, ["import-departments", str(directory), "--dry-run"]) == 0
    assert "所属 2 件を確認しました（--dry-run" in capsys.readouterr().out
    assert await h.db.nominations.get_department("D900") is None  # a dry run stores nothing
    assert await asyncio.to_thread(cli, ["import-departments", str(directory)]) == 0
    # (the summary was English, "2 departments (1 new, 1 updated, ..."; same counts, in Japanese)
    assert "所属 2 件を取り込みました：新規 1 件、更新 1 件" in capsys.readouterr().out
    active = await h.db.nominations.list_departments()
    assert [d.code for d in active] == ["D001", "D900"]
    retired = await h.db.nominations.get_department("D028")
    assert retired is not None and not retired.active  # kept for its submissions

    broken = tmp_path / "broken.csv"
    broken.write_text("code,name,contacts\nD1,,bad\n", encoding="utf-8")
    assert await asyncio.to_thread(cli, ["import-departments", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "broken.csv:2" in err and "contacts" in err
