"""Parse and validate the submitted WG forms into frozen domain objects or field errors.

Pure functions: the clock, campaign, catalogue and directory are passed in. A rejected form
gives ``FormErrors``: field id -> Japanese message (shown under that field) plus the values
the person typed, so the card can be shown again without losing anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wg.campaign import Campaign
from wg.catalogue import Catalogue, WorkingGroup
from wg.departments import GUID, Department, DepartmentDirectory

FORM_ERROR = "_form"  # errors about the whole card, shown at its top
NOMINEE_FIELDS = ("name", "aad", "position", "status", "note")
ROW_CONTENT_FIELDS = ("name", "aad", "position", "note")
STATUS_CHOICES = {"continuing": "継続", "new": "新規"}

NAME_MAX = 40
POSITION_MAX = 30
NOTE_MAX = 200

APPLICATION_FIELDS = ("name", "department", "position", "themes", "motivation", "supervisor_agreed")

_NOMINEE_KEY = re.compile(r"^(?P<wg>[a-z][a-z0-9-]*)\.(?P<slot>\d{1,2})\.(?P<field>[a-z]+)$")


def nominee_field(wg_id: str, slot: int, name: str) -> str:
    """The input id of one nominee field on the department form, e.g. ``bpr.1.name``."""
    return f"{wg_id}.{slot}.{name}"


@dataclass(frozen=True, slots=True)
class Nominee:
    """A person a department nominates for a WG."""

    wg_id: str
    name: str
    aad_object_id: str
    position: str
    continuing: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Nomination:
    """One department's answer to a campaign: its nominees across the WGs that concern it."""

    campaign_id: str
    department_code: str
    nominees: tuple[Nominee, ...]
    submitted_by: str  # Entra object id of the person who sent the form
    submitted_at: datetime

    def for_wg(self, wg_id: str) -> tuple[Nominee, ...]:
        """The nominees for one WG, in form order."""
        return tuple(n for n in self.nominees if n.wg_id == wg_id)


@dataclass(frozen=True, slots=True)
class OpenApplication:
    """A staff member's own application to an open-application WG (③)."""

    campaign_id: str
    wg_id: str
    applicant_aad_id: str
    name: str
    department_code: str
    position: str
    themes: tuple[str, ...]
    motivation: str
    supervisor_agreed: bool
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class FormErrors:
    """A rejected form: messages by field id and the values to show again."""

    errors: Mapping[str, str]
    values: Mapping[str, str] = field(default_factory=dict)


def _as_text(value: Any) -> str | None:
    """Inputs arrive as strings; anything else (a crafted request) is not accepted."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return None


def _campaign_error(campaign: Campaign, now: datetime) -> str | None:
    if campaign.state == "closed" or now >= campaign.deadline:
        return "この募集は締め切られました。変更が必要な場合は事務局（情報政策課）にご連絡ください。"
    if campaign.state != "open" or now < campaign.opens_at:
        return "この募集はまだ始まっていません。"
    return None


def nomination_values(nomination: Nomination) -> dict[str, str]:
    """The department form's input values for an existing nomination (to edit it)."""
    values: dict[str, str] = {}
    slots: dict[str, int] = {}
    for nominee in nomination.nominees:
        slot = slots.get(nominee.wg_id, 0) + 1
        slots[nominee.wg_id] = slot
        values[nominee_field(nominee.wg_id, slot, "name")] = nominee.name
        values[nominee_field(nominee.wg_id, slot, "aad")] = nominee.aad_object_id
        values[nominee_field(nominee.wg_id, slot, "position")] = nominee.position
        values[nominee_field(nominee.wg_id, slot, "status")] = "continuing" if nominee.continuing else "new"
        values[nominee_field(nominee.wg_id, slot, "note")] = nominee.note
    return values


def parse_nomination(
    data: Mapping[str, Any],
    *,
    campaign: Campaign,
    department: Department,
    catalogue: Catalogue,
    submitted_by: str,
    now: datetime,
) -> Nomination | FormErrors:
    """Validate the department form's submitted data into a Nomination, or say what is wrong where."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    wgs = catalogue.for_department(department.name, campaign.wg_ids)
    wg_by_id = {wg.id: wg for wg in wgs}

    campaign_problem = _campaign_error(campaign, now)
    if campaign_problem:
        errors[FORM_ERROR] = campaign_problem

    # slot -> field -> text, per WG, taken from keys shaped like "bpr.1.name"
    entries: dict[str, dict[int, dict[str, str]]] = {}
    for key, raw in data.items():
        match = _NOMINEE_KEY.match(key)
        if not match or match["field"] not in NOMINEE_FIELDS:
            continue
        wg_id, slot = match["wg"], int(match["slot"])
        if wg_id not in wg_by_id:
            known = catalogue.get(wg_id)
            label = f"「{known.name}」" if known else f"「{wg_id}」"
            errors.setdefault(FORM_ERROR, f"{label}はこの所属の推薦対象ではありません。")
            continue
        value = _as_text(raw)
        if value is None:
            errors[key] = "文字で入力してください。"
            continue
        values[key] = value
        entries.setdefault(wg_id, {}).setdefault(slot, {})[match["field"]] = value

    nominees: list[Nominee] = []
    first_seen: dict[str, tuple[str, str]] = {}  # aad id -> (wg name, field id)
    for wg in wgs:
        quota = catalogue.quota(wg)
        filled_slots = 0
        for slot in sorted(entries.get(wg.id, {})):
            fields = entries[wg.id][slot]
            if not any(fields.get(name) for name in ROW_CONTENT_FIELDS):
                continue  # an empty row means "nobody here" (the 継続/新規 choice has a default)
            if slot < 1 or slot > quota:
                errors[wg.id] = f"この所属から推薦できるのは{quota}名までです。"
                continue
            filled_slots += 1
            nominee = _parse_nominee(wg, slot, fields, errors)
            if nominee is None:
                continue
            aad_field = nominee_field(wg.id, slot, "aad")
            earlier = first_seen.get(nominee.aad_object_id)
            if earlier:
                where = "このWG" if earlier[0] == wg.name else f"「{earlier[0]}」"
                errors[aad_field] = f"同じ職員が{where}にも入力されています。1人は1か所だけにしてください。"
                continue
            first_seen[nominee.aad_object_id] = (wg.name, aad_field)
            nominees.append(nominee)
        if filled_slots == 0:
            errors.setdefault(nominee_field(wg.id, 1, "name"), "少なくとも1名を推薦してください。")

    if errors:
        return FormErrors(errors, values)
    return Nomination(campaign.id, department.code, tuple(nominees), submitted_by, now)


def _parse_nominee(
    wg: WorkingGroup, slot: int, fields: Mapping[str, str], errors: dict[str, str]
) -> Nominee | None:
    """One filled nominee row, adding an error per bad field."""
    ok = True

    def fail(name: str, message: str) -> None:
        nonlocal ok
        ok = False
        # A field already rejected (e.g. not text) keeps its first, more precise message.
        errors.setdefault(nominee_field(wg.id, slot, name), message)

    name = fields.get("name", "")
    aad = fields.get("aad", "").lower()
    position = fields.get("position", "")
    status = fields.get("status", "")
    note = fields.get("note", "")
    if not name:
        fail("name", "氏名を入力してください。")
    elif len(name) > NAME_MAX:
        fail("name", f"氏名は{NAME_MAX}文字以内で入力してください。")
    if not aad:
        fail("aad", "Teams のユーザー検索から職員を選んでください。")
    elif not GUID.match(aad):
        fail("aad", "職員は Teams のユーザー検索から選んでください。")
    if not position:
        fail("position", "職名を入力してください。")
    elif len(position) > POSITION_MAX:
        fail("position", f"職名は{POSITION_MAX}文字以内で入力してください。")
    if status not in STATUS_CHOICES:
        fail("status", "継続か新規かを選んでください。")
    if len(note) > NOTE_MAX:
        fail("note", f"備考は{NOTE_MAX}文字以内で入力してください（いま{len(note)}文字）。")
    if not ok:
        return None
    return Nominee(wg.id, name, aad, position, status == "continuing", note)


def parse_application(
    data: Mapping[str, Any],
    *,
    campaign: Campaign,
    catalogue: Catalogue,
    directory: DepartmentDirectory,
    applicant_aad_id: str,
    now: datetime,
) -> OpenApplication | FormErrors:
    """Validate the open-application form's submitted data into an OpenApplication, or field errors."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for key in APPLICATION_FIELDS:
        text = _as_text(data.get(key))
        if text is None:
            errors[key] = "文字で入力してください。"
            text = ""
        values[key] = text

    campaign_problem = _campaign_error(campaign, now)
    if campaign_problem:
        errors[FORM_ERROR] = campaign_problem
    wg_id = data.get("wg_id")
    wg = catalogue.get(wg_id) if isinstance(wg_id, str) else None
    if wg is None or wg.id not in campaign.wg_ids or wg not in catalogue.open_application(campaign.wg_ids):
        errors[FORM_ERROR] = "このWGはこのフォームで応募を受け付けていません。"

    name = values["name"]
    if not name:
        errors["name"] = "氏名を入力してください。"
    elif len(name) > NAME_MAX:
        errors["name"] = f"氏名は{NAME_MAX}文字以内で入力してください。"
    if not values["department"]:
        errors["department"] = "所属を選んでください。"
    elif directory.get(values["department"]) is None:
        errors["department"] = "一覧にない所属です。一覧から選んでください。"
    position = values["position"]
    if not position:
        errors["position"] = "職名を入力してください。"
    elif len(position) > POSITION_MAX:
        errors["position"] = f"職名は{POSITION_MAX}文字以内で入力してください。"

    themes = tuple(t for t in (part.strip() for part in values["themes"].split(",")) if t)
    if wg is not None and wg.themes:
        unknown = [t for t in themes if t not in wg.themes]
        if not themes:
            errors["themes"] = "取り組みたいテーマを1つ以上選んでください。"
        elif unknown:
            errors["themes"] = f"一覧にないテーマです：{'、'.join(unknown)}"
        elif len(set(themes)) != len(themes):
            errors["themes"] = "同じテーマが2回選ばれています。"
    motivation = values["motivation"]
    limit = catalogue.motivation_max_length
    if not motivation:
        errors["motivation"] = "志望動機を入力してください。"
    elif len(motivation) > limit:
        errors["motivation"] = f"志望動機は{limit}文字以内で入力してください（いま{len(motivation)}文字）。"
    if values["supervisor_agreed"] != "true":
        errors["supervisor_agreed"] = "所属長（上司）の了承を得てから応募してください。"

    if errors or wg is None:
        return FormErrors(errors, values)
    return OpenApplication(
        campaign_id=campaign.id,
        wg_id=wg.id,
        applicant_aad_id=applicant_aad_id,
        name=name,
        department_code=values["department"],
        position=position,
        themes=themes,
        motivation=motivation,
        supervisor_agreed=True,
        submitted_at=now,
    )


def application_values(application: OpenApplication) -> dict[str, str]:
    """The open-application form's input values for an existing application (to edit it)."""
    return {
        "name": application.name,
        "department": application.department_code,
        "position": application.position,
        "themes": ",".join(application.themes),
        "motivation": application.motivation,
        "supervisor_agreed": "true" if application.supervisor_agreed else "false",
    }
