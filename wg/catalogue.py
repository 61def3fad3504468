"""The catalogue of working groups (WG), read from YAML and validated all at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from wg.problems import ConfigError, Problem, compose_yaml, line_of, problems_from_validation

SelectionMethod = Literal["all-departments", "related-departments", "open-application"]

SELECTION_LABELS: dict[str, str] = {
    "all-departments": "①全所属で構成",
    "related-departments": "②業務に関係する所属で構成",
    "open-application": "③公募により構成",
}

DEFAULT_CATALOGUE_NAME = "catalogue.yaml"


def _custom(ja: str, en: str) -> PydanticCustomError:
    return PydanticCustomError("catalogue", "{en}", {"ja": ja, "en": en})


def _selection_mismatches(selection: object, departments: object, themes: object) -> list[tuple[str, str]]:
    """Cross-field rules of a WG, as (Japanese, English) messages; also run on raw YAML (see below)."""
    found = []
    departments = list(departments) if isinstance(departments, list | tuple) else []
    if selection == "related-departments" and not departments:
        found.append(
            (
                "②の選出方法では departments に所属を1つ以上書いてください",
                "selection 'related-departments' needs at least one entry in departments",
            )
        )
    if selection != "related-departments" and departments:
        found.append(
            (
                "departments は選出方法が related-departments のときだけ書けます",
                "departments is only allowed with selection 'related-departments'",
            )
        )
    if themes and selection != "open-application":
        found.append(
            (
                "themes は公募（open-application）のWGにだけ書けます",
                "themes is only allowed with selection 'open-application'",
            )
        )
    if len({str(d) for d in departments}) != len(departments):
        found.append(("departments に同じ所属が2回あります", "departments lists a department twice"))
    return found


class WorkingGroup(BaseModel):
    """One WG: what it does and how its members are chosen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    name: str = Field(min_length=1, max_length=60)
    purpose: str = Field(min_length=1, max_length=1000)
    selection: SelectionMethod
    departments: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    quota_per_department: int | None = Field(default=None, ge=1, le=10)
    continuing_members: bool = False
    separate_recruitment: bool = False
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _departments_match_selection(self) -> WorkingGroup:
        for ja, en in _selection_mismatches(self.selection, self.departments, self.themes):
            raise _custom(ja, en)
        return self

    @property
    def selection_label(self) -> str:
        """The selection method as the seed writes it (①②③)."""
        return SELECTION_LABELS[self.selection]

    @property
    def is_nominated_by_departments(self) -> bool:
        """True when departments nominate members (① and ②), False for open application (③)."""
        return self.selection != "open-application"

    def concerns_department(self, department_name: str) -> bool:
        """Whether a department is asked to nominate members for this WG."""
        if self.selection == "all-departments":
            return True
        return department_name in self.departments


class Catalogue(BaseModel):
    """All WGs of a year with the defaults that apply to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    default_quota: int = Field(default=1, ge=1, le=10)
    motivation_max_length: int = Field(default=400, ge=10, le=2000)
    working_groups: tuple[WorkingGroup, ...]

    @model_validator(mode="after")
    def _has_groups(self) -> Catalogue:
        # Checked here, not with min_length, which pydantic also reports when items merely fail.
        if not self.working_groups:
            raise _custom(
                "working_groups にWGを1つ以上書いてください", "working_groups must list at least one WG"
            )
        return self

    def __iter__(self) -> Iterator[WorkingGroup]:  # type: ignore[override]
        return iter(self.working_groups)

    def get(self, wg_id: str) -> WorkingGroup | None:
        """The WG with this id, or None."""
        return next((wg for wg in self.working_groups if wg.id == wg_id), None)

    def __getitem__(self, wg_id: str) -> WorkingGroup:
        found = self.get(wg_id)
        if found is None:
            raise KeyError(wg_id)
        return found

    def quota(self, wg: WorkingGroup) -> int:
        """How many members one department may nominate for this WG."""
        return wg.quota_per_department or self.default_quota

    def for_department(
        self, department_name: str, wg_ids: tuple[str, ...] | None = None
    ) -> list[WorkingGroup]:
        """The nominated WGs (① and ②) that concern a department, limited to ``wg_ids`` if given."""
        return [
            wg
            for wg in self.working_groups
            if wg.is_nominated_by_departments
            and wg.concerns_department(department_name)
            and (wg_ids is None or wg.id in wg_ids)
        ]

    def open_application(self, wg_ids: tuple[str, ...] | None = None) -> list[WorkingGroup]:
        """The open-application WGs (③) that take applications through the bot."""
        return [
            wg
            for wg in self.working_groups
            if wg.selection == "open-application"
            and not wg.separate_recruitment
            and (wg_ids is None or wg.id in wg_ids)
        ]


def unknown_departments(catalogue: Catalogue, department_names: Iterable[str]) -> list[str]:
    """Department names a ② WG lists that the directory does not know (check at start-up)."""
    known = set(department_names)
    return [f"{wg.id}: {name}" for wg in catalogue for name in wg.departments if name not in known]


def _raw_problems(raw: object, file: str, root: yaml.Node | None) -> list[Problem]:
    """Duplicate ids and cross-field rules, checked on the raw data.

    pydantic runs a model validator only when every field of the model is valid; checking the raw
    data too reports these mistakes in the same run as the field errors.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("working_groups"), list):
        return []
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(raw["working_groups"]):
        if isinstance(item, dict) and item.get("selection") in SELECTION_LABELS:
            for ja, en in _selection_mismatches(
                item.get("selection"), item.get("departments"), item.get("themes")
            ):
                problems.append(
                    Problem(
                        file, line_of(root, ["working_groups", index]), f"working_groups[{index}]", ja, en
                    )
                )
        wg_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(wg_id, str):
            continue
        if wg_id in seen:
            loc: list[str | int] = ["working_groups", index, "id"]
            problems.append(
                Problem(
                    file,
                    line_of(root, loc),
                    f"working_groups[{index}].id",
                    f"id「{wg_id}」は working_groups[{seen[wg_id]}] と重複しています",
                    f"id '{wg_id}' duplicates working_groups[{seen[wg_id]}]",
                )
            )
        else:
            seen[wg_id] = index
    return problems


def parse_catalogue(text: str, file: str = DEFAULT_CATALOGUE_NAME) -> Catalogue:
    """Validate catalogue YAML text; raise ConfigError listing every problem with its line."""
    try:
        root = compose_yaml(text)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            [Problem(file, line, "", "YAML の書き方に誤りがあります", f"YAML syntax error: {exc.problem}")]
        ) from exc
    problems = _raw_problems(raw, file, root)
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as exc:
        # A dict keeps the first of equal problems: the raw check and the model validator may agree.
        unique = {
            (p.line, p.path, p.message_ja): p for p in problems_from_validation(exc, file, root) + problems
        }
        raise ConfigError(sorted(unique.values(), key=lambda p: (p.line or 0, p.path))) from exc
    if problems:
        raise ConfigError(problems)
    return catalogue


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the WG catalogue from ``path``, or the one shipped with this package."""
    if path is None:
        text = resources.files("wg").joinpath(DEFAULT_CATALOGUE_NAME).read_text(encoding="utf-8")
        return parse_catalogue(text, DEFAULT_CATALOGUE_NAME)
    file = Path(path)
    return parse_catalogue(file.read_text(encoding="utf-8-sig"), str(file))
