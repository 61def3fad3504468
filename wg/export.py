"""Export nominations and applications per WG as CSV (UTF-8 with BOM) and XLSX bytes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

from openpyxl import Workbook

from wg.campaign import JST, Campaign, nendo_label
from wg.catalogue import Catalogue
from wg.departments import DepartmentDirectory
from wg.forms import STATUS_CHOICES, Nomination, OpenApplication

COLUMNS = (
    "年度",
    "WG ID",
    "WG名",
    "区分",
    "所属コード",
    "所属名",
    "氏名",
    "EntraオブジェクトID",
    "職名",
    "継続/新規",
    "テーマ",
    "志望動機",
    "上司の了承",
    "備考",
    "提出日時",
    "提出者",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One person in one WG, as a line of the export."""

    fiscal_year: str
    wg_id: str
    wg_name: str
    kind: str  # 推薦 or 公募
    department_code: str
    department_name: str
    name: str
    aad_object_id: str
    position: str
    status: str
    themes: str
    motivation: str
    supervisor_agreed: str
    note: str
    submitted_at: str
    submitted_by: str

    def cells(self) -> tuple[str, ...]:
        """The row's values in COLUMNS order."""
        return astuple(self)


def export_rows(
    campaign: Campaign,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    nominations: Iterable[Nomination],
    applications: Iterable[OpenApplication] = (),
) -> list[ExportRow]:
    """Rows for every nominee and applicant, ordered by WG (catalogue order) then department code."""
    year = nendo_label(campaign.fiscal_year)
    order = {wg.id: index for index, wg in enumerate(catalogue)}
    rows: list[ExportRow] = []

    def department_name(code: str) -> str:
        found = directory.get(code)
        return found.name if found else ""

    for nomination in nominations:
        for nominee in nomination.nominees:
            wg = catalogue.get(nominee.wg_id)
            rows.append(
                ExportRow(
                    year,
                    nominee.wg_id,
                    wg.name if wg else "",
                    "推薦",
                    nomination.department_code,
                    department_name(nomination.department_code),
                    nominee.name,
                    nominee.aad_object_id,
                    nominee.position,
                    STATUS_CHOICES["continuing" if nominee.continuing else "new"],
                    "",
                    "",
                    "",
                    nominee.note,
                    _local(nomination.submitted_at),
                    nomination.submitted_by,
                )
            )
    for application in applications:
        wg = catalogue.get(application.wg_id)
        rows.append(
            ExportRow(
                year,
                application.wg_id,
                wg.name if wg else "",
                "公募",
                application.department_code,
                department_name(application.department_code),
                application.name,
                application.applicant_aad_id,
                application.position,
                "",
                "、".join(application.themes),
                application.motivation,
                "了承済み" if application.supervisor_agreed else "未了承",
                "",
                _local(application.submitted_at),
                application.applicant_aad_id,
            )
        )
    rows.sort(key=lambda r: (order.get(r.wg_id, len(order)), r.department_code, r.kind))
    return rows


def _local(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _safe_cell(value: str) -> str:
    """Keep spreadsheet programs from running text someone typed as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv_bytes(rows: Sequence[ExportRow]) -> bytes:
    """CSV in UTF-8 with a BOM and CRLF line ends, so Excel opens the Japanese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_safe_cell(cell) for cell in row.cells()])
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_title(name: str, used: set[str]) -> str:
    # Excel limits sheet titles to 31 characters without []:*?/\ and requires them unique.
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "WG"
    candidate, number = title, 2
    while candidate in used:
        suffix = f"({number})"
        candidate, number = title[: 31 - len(suffix)] + suffix, number + 1
    used.add(candidate)
    return candidate


def to_xlsx_bytes(rows: Sequence[ExportRow], catalogue: Catalogue) -> bytes:
    """An XLSX workbook: a 一覧 sheet with every row, then one sheet per WG that has rows."""
    workbook = Workbook()
    overview = workbook.active
    assert overview is not None  # a new Workbook always has one sheet
    overview.title = "一覧"
    used = {"一覧"}
    overview.append(COLUMNS)
    for row in rows:
        overview.append([_safe_cell(cell) for cell in row.cells()])
    for wg in catalogue:
        wg_rows = [row for row in rows if row.wg_id == wg.id]
        if not wg_rows:
            continue
        sheet = workbook.create_sheet(_sheet_title(wg.name, used))
        sheet.append(COLUMNS)
        for row in wg_rows:
            sheet.append([_safe_cell(cell) for cell in row.cells()])
    for sheet in workbook.worksheets:
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
