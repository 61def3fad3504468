"""Command line for the WG nominations, reading ``DATABASE_URL``.

    python -m bot.nominations export --campaign fy2026 --format xlsx --out 推薦一覧.xlsx
    python -m bot.nominations import-departments departments.csv
    python -m bot.nominations campaigns

Exit status: 0 done, 1 the input or the campaign was wrong (message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.services.nominations import export_campaign
from bot.storage import DEFAULT_DATABASE_URL, Database
from bot.storage.ports import Department as StoredDepartment
from wg.catalogue import load_catalogue
from wg.departments import load_departments
from wg.problems import ConfigError

_STATUS_LABELS = {"open": "受付中", "closed": "受付終了"}


def _database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


async def _export(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(args.catalogue)
    async with Database.connect(_database_url()) as db:
        await db.migrate()
        stored = await db.nominations.get_campaign(args.campaign)
        if stored is None:
            known = ", ".join(c.id for c in await db.nominations.list_campaigns()) or "なし"
            print(f"キャンペーン {args.campaign!r} はありません（登録済み：{known}）", file=sys.stderr)
            return 1
        export = await export_campaign(db.nominations, catalogue, stored, args.format)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(export.data)
    tmp.replace(out)  # a reader never sees half a file
    print(f"{out} に書き出しました（{args.format.upper()}、{len(export.data):,} バイト）")
    return 0


async def _import_departments(args: argparse.Namespace) -> int:
    directory = load_departments(args.file)  # every problem at once, with line numbers
    async with Database.connect(_database_url()) as db:
        await db.migrate()
        repo = db.nominations
        existing = {d.code: d for d in await repo.list_departments(active_only=False)}
        incoming = [StoredDepartment(d.code, d.name, d.contacts, True, i) for i, d in enumerate(directory)]
        codes = {d.code for d in incoming}
        # Codes missing from the file are kept (old submissions refer to them) but deactivated.
        retired = [
            StoredDepartment(d.code, d.name, d.contacts, False, d.sort_order)
            for d in existing.values()
            if d.code not in codes and d.active
        ]
        if not args.dry_run:
            await repo.upsert_departments([*incoming, *retired])
    added = sum(1 for d in incoming if d.code not in existing)
    without_contacts = sum(1 for d in incoming if not d.contacts)
    result = "を確認しました（--dry-run のため保存していません）" if args.dry_run else "を取り込みました"
    print(
        f"所属 {len(incoming)} 件{result}：新規 {added} 件、更新 {len(incoming) - added} 件、"
        f"無効化 {len(retired)} 件、担当者未登録 {without_contacts} 件"
    )
    return 0


async def _campaigns(_args: argparse.Namespace) -> int:
    async with Database.connect(_database_url()) as db:
        await db.migrate()
        for campaign in await db.nominations.list_campaigns():
            status = _STATUS_LABELS.get(campaign.status, campaign.status)
            print(f"{campaign.id}\t{campaign.fiscal_year}\t{status}\t{campaign.deadline.isoformat()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.nominations", description="WG 選出の管理（データベースは DATABASE_URL）"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser(
        "export", help="キャンペーンの推薦・応募一覧を CSV（UTF-8 BOM 付き）または XLSX で書き出す"
    )
    export.add_argument("--campaign", required=True, help="キャンペーン ID（例 fy2026）")
    export.add_argument("--format", choices=("csv", "xlsx"), required=True, help="ファイル形式")
    export.add_argument("--out", required=True, help="書き出すファイル")
    export.add_argument("--catalogue", default=None, help="WG カタログの YAML（省略時は同梱のもの）")
    export.set_defaults(run=_export)
    departments = sub.add_parser("import-departments", help="所属名簿を CSV から取り込む")
    departments.add_argument("file", help="見出し行 code,name,contacts の CSV（担当者は ; 区切り）")
    departments.add_argument("--dry-run", action="store_true", help="確認して件数を表示するだけで保存しない")
    departments.set_defaults(run=_import_departments)
    campaigns = sub.add_parser("campaigns", help="キャンペーンの一覧")
    campaigns.set_defaults(run=_campaigns)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(args.run(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
