"""Export: CSV with a BOM and the agreed columns, XLSX that openpyxl reads back."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.wg import samples
from wg.export import COLUMNS, export_rows, to_csv_bytes, to_xlsx_bytes


def _rows():  # type: ignore[no-untyped-def]
    return export_rows(
        samples.campaign(),
        samples.catalogue(),
        samples.directory(),
        [samples.nomination()],
        [samples.application()],
    )


def test_rows_are_ordered_by_wg_and_carry_every_field() -> None:
    rows = _rows()
    assert [(r.wg_id, r.name, r.kind) for r in rows] == [
        ("bpr", "前橋 太郎", "推薦"),
        ("bpr", "赤城 花子", "推薦"),
        ("seido-digital", "榛名 次郎", "推薦"),
        ("mirise", "前橋 太郎", "公募"),
    ]
    first = rows[0]
    assert first.fiscal_year == "令和5年度"
    assert first.department_name == "情報政策課" and first.status == "継続" and first.note == "昨年度から継続"
    assert first.submitted_at == "2023-05-01 12:00"  # JST
    assert rows[3].themes == "複業、ピアボーナス" and rows[3].supervisor_agreed == "了承済み"


def test_csv_has_a_bom_the_columns_and_neutralised_formulas() -> None:
    data = to_csv_bytes(_rows())
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS
    assert len(table) == 5
    assert table[1][COLUMNS.index("氏名")] == "前橋 太郎"
    assert table[1][COLUMNS.index("WG名")] == "BPR推進WG"
    assert table[4][COLUMNS.index("志望動機")].startswith("'=")  # Excel would run it as a formula


def test_xlsx_is_readable_with_an_overview_and_a_sheet_per_wg() -> None:
    workbook = load_workbook(io.BytesIO(to_xlsx_bytes(_rows(), samples.catalogue())))
    assert workbook.sheetnames == ["一覧", "BPR推進WG", "制度デジタル化WG", "ミライズWG"]
    overview = [tuple(cell.value for cell in row) for row in workbook["一覧"].iter_rows()]
    assert overview[0] == COLUMNS and len(overview) == 5
    bpr = [row for row in workbook["BPR推進WG"].iter_rows(values_only=True)]
    assert [r[COLUMNS.index("氏名")] for r in bpr[1:]] == ["前橋 太郎", "赤城 花子"]


def test_an_empty_export_still_has_headers() -> None:
    assert to_csv_bytes([]).decode("utf-8-sig").strip() == ",".join(COLUMNS)
    workbook = load_workbook(io.BytesIO(to_xlsx_bytes([], samples.catalogue())))
    assert workbook.sheetnames == ["一覧"]
