"""Filled-in form data, as Teams would send it with an Action.Execute."""

from __future__ import annotations

from typing import Any

from wg.catalogue import Catalogue
from wg.forms import nominee_field


def person(department: str, wg_id: str, slot: int = 1) -> str:
    """A stable, distinct Entra id for a nominee."""
    digits = "".join(ch for ch in department if ch.isdigit()) or "0"
    code = sum(ord(ch) for ch in wg_id)
    return f"eeeeeeee-{int(digits):04d}-4000-8000-{code:08d}{slot:04d}"


def nominee_inputs(wg_id: str, slot: int, aad: str, name: str = "前橋 太郎", **extra: str) -> dict[str, str]:
    """The inputs of one nominee row."""
    values = {
        nominee_field(wg_id, slot, "name"): name,
        nominee_field(wg_id, slot, "aad"): aad,
        nominee_field(wg_id, slot, "position"): "主任",
        nominee_field(wg_id, slot, "status"): "new",
        nominee_field(wg_id, slot, "note"): "",
    }
    values.update({nominee_field(wg_id, slot, key): value for key, value in extra.items()})
    return values


def valid_nomination(catalogue: Catalogue, department_code: str, department_name: str) -> dict[str, str]:
    """One nominee for every WG that concerns the department."""
    data: dict[str, str] = {}
    for wg in catalogue.for_department(department_name):
        data.update(nominee_inputs(wg.id, 1, person(department_code, wg.id), name=f"{wg.id} 担当"))
    return data


def valid_application(department_code: str = "D001") -> dict[str, Any]:
    """A complete open application to ミライズWG."""
    return {
        "name": "赤城 花子",
        "department": department_code,
        "position": "主事",
        "themes": "複業,ピアボーナス",
        "motivation": "職員の挑戦を応援する仕組みを作りたいです。",
        "supervisor_agreed": "true",
    }
