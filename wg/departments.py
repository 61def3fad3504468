"""The department directory: about 80 departments with their contact people (Entra object ids)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wg.problems import ConfigError, Problem

SAMPLE_CSV_NAME = "departments_sample.csv"
HEADER = ("code", "name", "contacts")

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME_MAX = 50


@dataclass(frozen=True, slots=True)
class Department:
    """A department (課相当の所属) and the people who answer for it."""

    code: str
    name: str
    contacts: tuple[str, ...] = ()  # Entra object ids


class DepartmentDirectory:
    """Departments in file order, found by code or by name."""

    def __init__(self, departments: Iterable[Department]) -> None:
        self._departments = tuple(departments)
        self._by_code = {d.code: d for d in self._departments}
        self._by_name = {d.name: d for d in self._departments}

    def __iter__(self) -> Iterator[Department]:
        return iter(self._departments)

    def __len__(self) -> int:
        return len(self._departments)

    def get(self, code: str) -> Department | None:
        """The department with this code, or None."""
        return self._by_code.get(code)

    def by_name(self, name: str) -> Department | None:
        """The department with this exact name, or None."""
        return self._by_name.get(name)

    def for_contact(self, aad_object_id: str) -> list[Department]:
        """The departments a person is a contact for."""
        return [d for d in self._departments if aad_object_id in d.contacts]


def _data_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) skipping blank lines and ``#`` comments (used to mark samples)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def parse_departments_csv(text: str, file: str = "departments.csv") -> DepartmentDirectory:
    """Read ``code,name,contacts`` CSV text (contacts ``;``-separated); raise ConfigError for every bad row."""
    text = text.removeprefix("\ufeff")
    problems: list[Problem] = []
    rows = list(_data_lines(text))
    if not rows:
        raise ConfigError([Problem(file, None, "", "所属が1件もありません", "no departments in the file")])
    header_line, header_text = rows[0]
    header = tuple(cell.strip().lower() for cell in next(csv.reader([header_text])))
    if header != HEADER:
        raise ConfigError(
            [
                Problem(
                    file,
                    header_line,
                    "header",
                    f"1行目（見出し）は {','.join(HEADER)} にしてください",
                    f"the header must be {','.join(HEADER)}, found {','.join(header)}",
                )
            ]
        )
    departments: list[Department] = []
    first_line_of_code: dict[str, int] = {}
    first_line_of_name: dict[str, int] = {}
    for line_number, line in rows[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) not in (2, 3):
            problems.append(
                Problem(
                    file,
                    line_number,
                    "",
                    f"列の数が{len(cells)}個です（code,name,contacts の3列にしてください）",
                    f"expected 3 columns (code,name,contacts), found {len(cells)}",
                )
            )
            continue
        code, name = cells[0].strip(), cells[1].strip()
        contacts = tuple(c.strip() for c in (cells[2] if len(cells) == 3 else "").split(";") if c.strip())
        row_ok = True
        if not _CODE.match(code):
            row_ok = False
            problems.append(
                Problem(
                    file,
                    line_number,
                    "code",
                    "code は半角英数字・-・_ の1〜20文字にしてください",
                    f"code must be 1-20 characters of A-Z a-z 0-9 - _, found {code!r}",
                )
            )
        elif code in first_line_of_code:
            row_ok = False
            problems.append(
                Problem(
                    file,
                    line_number,
                    "code",
                    f"code「{code}」は{first_line_of_code[code]}行目と重複しています",
                    f"code {code!r} duplicates line {first_line_of_code[code]}",
                )
            )
        if not name or len(name) > _NAME_MAX:
            row_ok = False
            problems.append(
                Problem(
                    file,
                    line_number,
                    "name",
                    f"name は1〜{_NAME_MAX}文字にしてください",
                    f"name must be 1-{_NAME_MAX} characters",
                )
            )
        elif name in first_line_of_name:
            row_ok = False
            problems.append(
                Problem(
                    file,
                    line_number,
                    "name",
                    f"所属名「{name}」は{first_line_of_name[name]}行目と重複しています",
                    f"name {name!r} duplicates line {first_line_of_name[name]}",
                )
            )
        for contact in contacts:
            if not GUID.match(contact):
                row_ok = False
                problems.append(
                    Problem(
                        file,
                        line_number,
                        "contacts",
                        f"連絡担当者「{contact}」は Entra のオブジェクトID（GUID）ではありません",
                        f"contact {contact!r} is not an Entra object id (GUID)",
                    )
                )
        first_line_of_code.setdefault(code, line_number)
        first_line_of_name.setdefault(name, line_number)
        if row_ok:
            departments.append(Department(code, name, tuple(c.lower() for c in contacts)))
    if problems:
        raise ConfigError(problems)
    return DepartmentDirectory(departments)


def load_departments(path: str | Path | None = None) -> DepartmentDirectory:
    """Load the directory from a CSV file (UTF-8, BOM optional), or the shipped sample."""
    if path is None:
        data = resources.files("wg").joinpath(SAMPLE_CSV_NAME).read_bytes()
        return parse_departments_csv(data.decode("utf-8-sig"), SAMPLE_CSV_NAME)
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(str(file), None, "", "UTF-8 で保存してください", f"the file is not UTF-8: {exc}")]
        ) from exc
    return parse_departments_csv(text, str(file))
