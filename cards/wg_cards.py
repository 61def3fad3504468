"""Cards for the WG nominations: the department form, the open application, receipts, status, reminders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cards import verbs
from cards._build import (
    Element,
    action_set,
    card,
    container,
    error_text,
    execute,
    facts,
    heading,
    jst,
    subtle,
    text,
    with_errors,
)
from wg.campaign import Campaign, CampaignStatus
from wg.catalogue import Catalogue, WorkingGroup
from wg.departments import Department, DepartmentDirectory
from wg.forms import (
    FORM_ERROR,
    NAME_MAX,
    NOTE_MAX,
    POSITION_MAX,
    STATUS_CHOICES,
    Nomination,
    OpenApplication,
    application_values,
    nomination_values,
    nominee_field,
)

PEOPLE_DATASET = "graph.microsoft.com/users"


def _form_errors(errors: Mapping[str, str] | None) -> list[Element]:
    message = (errors or {}).get(FORM_ERROR)
    return [error_text(message)] if message else []


def _people_picker(input_id: str, label: str, value: str, display_name: str) -> Element:
    """A Teams people picker (Input.ChoiceSet with Data.Query); a set value shows as the chosen person."""
    picker: Element = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "placeholder": "名前で検索",
        "choices": [{"title": display_name or value, "value": value}] if value else [],
        "choices.data": {"type": "Data.Query", "dataset": PEOPLE_DATASET},
    }
    if value:
        picker["value"] = value
    return picker


def _nominee_inputs(
    wg: WorkingGroup, slot: int, values: Mapping[str, str], errors: Mapping[str, str] | None
) -> list[Element]:
    def field(name: str) -> str:
        return nominee_field(wg.id, slot, name)

    status_value = values.get(field("status")) or "new"
    items: list[Element] = [text(f"{slot}人目", weight="Bolder", size="Small")]
    items += with_errors(
        {
            "type": "Input.Text",
            "id": field("name"),
            "label": "氏名",
            "maxLength": NAME_MAX,
            "value": values.get(field("name"), ""),
        },
        errors,
    )
    items += with_errors(
        _people_picker(
            field("aad"), "職員（Teams で検索）", values.get(field("aad"), ""), values.get(field("name"), "")
        ),
        errors,
    )
    items += with_errors(
        {
            "type": "Input.Text",
            "id": field("position"),
            "label": "職名",
            "placeholder": "例：主任",
            "maxLength": POSITION_MAX,
            "value": values.get(field("position"), ""),
        },
        errors,
    )
    items += with_errors(
        {
            "type": "Input.ChoiceSet",
            "id": field("status"),
            "label": "継続・新規",
            "style": "expanded",
            "choices": [{"title": title, "value": value} for value, title in STATUS_CHOICES.items()],
            "value": status_value,
        },
        errors,
    )
    items += with_errors(
        {
            "type": "Input.Text",
            "id": field("note"),
            "label": "備考（任意）",
            "isMultiline": True,
            "maxLength": NOTE_MAX,
            "value": values.get(field("note"), ""),
        },
        errors,
    )
    return [container(items, spacing="Medium")]


def nomination_request_card(
    campaign: Campaign,
    department: Department,
    wgs: Sequence[WorkingGroup],
    existing: Nomination | None = None,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    *,
    catalogue: Catalogue,
) -> dict[str, Any]:
    """The department form: per WG, nominees (name, people picker, 職名, 継続/新規, note); errors by the field."""
    shown: dict[str, str] = dict(nomination_values(existing)) if existing else {}
    shown.update(values or {})
    body: list[Element] = [
        heading(f"{campaign.title}のお願い", size="Large"),
        text(f"{department.name} の皆さま、下記のWGに参加する職員の推薦をお願いします。"),
        facts([("締切", jst(campaign.deadline))]),
        *_form_errors(errors),
    ]
    for wg in wgs:
        quota = catalogue.quota(wg)
        section: list[Element] = [
            heading(wg.name),
            text(wg.purpose, isSubtle=True, size="Small"),
            subtle(
                f"{wg.selection_label}・{quota}名まで"
                + ("・昨年度メンバーの継続をお願いする場合があります" if wg.continuing_members else "")
            ),
        ]
        wg_message = (errors or {}).get(wg.id)
        if wg_message:
            section.append(error_text(wg_message))
        for slot in range(1, quota + 1):
            section += _nominee_inputs(wg, slot, shown, errors)
        body.append(container(section, separator=True, spacing="Large", id=f"wg-{wg.id}"))
    data = {"campaign_id": campaign.id, "department_code": department.code}
    title = "変更を提出する" if existing else "提出する"
    return card(
        body,
        [execute(title, verbs.NOMINATION_SUBMIT, data, style="positive")],
        fallbackText=f"{campaign.title}のお願い",
    )


def open_application_card(
    campaign: Campaign,
    wg: WorkingGroup,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    *,
    directory: DepartmentDirectory,
    motivation_max_length: int = 400,
    existing: OpenApplication | None = None,
) -> dict[str, Any]:
    """The open-application form (③): department, 職名, themes (multi-select), motivation, supervisor's agreement."""
    shown: dict[str, str] = dict(application_values(existing)) if existing else {}
    shown.update(values or {})
    body: list[Element] = [
        heading(f"{wg.name} メンバー募集（公募）", size="Large"),
        text(wg.purpose),
        facts([("締切", jst(campaign.deadline))]),
        *_form_errors(errors),
    ]
    body += with_errors(
        {
            "type": "Input.Text",
            "id": "name",
            "label": "氏名",
            "maxLength": NAME_MAX,
            "value": shown.get("name", ""),
        },
        errors,
    )
    body += with_errors(
        {
            "type": "Input.ChoiceSet",
            "id": "department",
            "label": "所属",
            "style": "compact",
            "placeholder": "所属を選んでください",
            "choices": [{"title": d.name, "value": d.code} for d in directory],
            "value": shown.get("department", ""),
        },
        errors,
    )
    body += with_errors(
        {
            "type": "Input.Text",
            "id": "position",
            "label": "職名",
            "placeholder": "例：主事",
            "maxLength": POSITION_MAX,
            "value": shown.get("position", ""),
        },
        errors,
    )
    if wg.themes:
        body += with_errors(
            {
                "type": "Input.ChoiceSet",
                "id": "themes",
                "label": "取り組みたいテーマ（複数選択できます）",
                "isMultiSelect": True,
                "style": "expanded",
                "choices": [{"title": theme, "value": theme} for theme in wg.themes],
                "value": shown.get("themes", ""),
            },
            errors,
        )
    body += with_errors(
        {
            "type": "Input.Text",
            "id": "motivation",
            "label": f"志望動機（{motivation_max_length}文字以内）",
            "isMultiline": True,
            "maxLength": motivation_max_length,
            "value": shown.get("motivation", ""),
        },
        errors,
    )
    body += with_errors(
        {
            "type": "Input.Toggle",
            "id": "supervisor_agreed",
            "title": "所属長（上司）の了承を得ています",
            "valueOn": "true",
            "valueOff": "false",
            "value": shown.get("supervisor_agreed", "false"),
        },
        errors,
    )
    data = {"campaign_id": campaign.id, "wg_id": wg.id}
    title = "変更を提出する" if existing else "応募する"
    return card(
        body,
        [execute(title, verbs.APPLICATION_SUBMIT, data, style="positive")],
        fallbackText=f"{wg.name} メンバー募集",
    )


def submission_receipt_card(
    campaign: Campaign,
    department: Department,
    nomination: Nomination,
    catalogue: Catalogue,
    *,
    now: datetime,
) -> dict[str, Any]:
    """What was received from a department, with edit and withdraw buttons until the deadline."""
    body: list[Element] = [
        heading("推薦を受け付けました ✅"),
        facts(
            [
                ("所属", department.name),
                ("受付日時", jst(nomination.submitted_at)),
                ("締切", jst(campaign.deadline)),
            ]
        ),
    ]
    for wg in catalogue:
        nominees = nomination.for_wg(wg.id)
        if not nominees:
            continue
        lines = [
            f"- {n.name}（{n.position}・{STATUS_CHOICES['continuing' if n.continuing else 'new']}）"
            + (f" 備考：{n.note}" if n.note else "")
            for n in nominees
        ]
        body.append(container([text(wg.name, weight="Bolder"), text("\n".join(lines))], separator=True))
    actions: list[Element] = []
    if campaign.accepting(now):
        data = {"campaign_id": campaign.id, "department_code": department.code}
        body.append(subtle(f"{jst(campaign.deadline)} までは変更・取り下げができます。"))
        actions = [
            execute("変更する", verbs.NOMINATION_EDIT, data),
            execute("取り下げる", verbs.NOMINATION_WITHDRAW, data, style="destructive"),
        ]
    else:
        body.append(subtle("締切を過ぎたため、変更はできません。"))
    return card(body, actions, fallbackText="推薦を受け付けました")


def application_receipt_card(
    campaign: Campaign,
    wg: WorkingGroup,
    application: OpenApplication,
    directory: DepartmentDirectory,
    *,
    now: datetime,
) -> dict[str, Any]:
    """What was received from an applicant, with edit and withdraw buttons until the deadline."""
    department = directory.get(application.department_code)
    body: list[Element] = [
        heading(f"{wg.name}への応募を受け付けました ✅"),
        facts(
            [
                ("氏名", application.name),
                ("所属", department.name if department else application.department_code),
                ("職名", application.position),
                *([("テーマ", "、".join(application.themes))] if application.themes else []),
                ("受付日時", jst(application.submitted_at)),
            ]
        ),
        text(f"志望動機：{application.motivation}", isSubtle=True),
    ]
    actions: list[Element] = []
    if campaign.accepting(now):
        data = {"campaign_id": campaign.id, "wg_id": wg.id}
        body.append(subtle(f"{jst(campaign.deadline)} までは変更・取り下げができます。"))
        actions = [
            execute("変更する", verbs.APPLICATION_EDIT, data),
            execute("取り下げる", verbs.APPLICATION_WITHDRAW, data, style="destructive"),
        ]
    return card(body, actions, fallbackText="応募を受け付けました")


def withdrawn_card(what: str = "推薦") -> dict[str, Any]:
    """The card a receipt turns into after a withdrawal."""
    return card(
        [text(f"{what}を取り下げました。", weight="Bolder"), subtle("締切までは、もう一度提出できます。")],
        fallbackText=f"{what}を取り下げました",
    )


def campaign_status_card(status: CampaignStatus, refresh_user_ids: Sequence[str]) -> dict[str, Any]:
    """The admins' status card: per WG, submitted and missing departments; refreshes itself for the admins."""
    campaign = status.campaign
    data = {"campaign_id": campaign.id}
    body: list[Element] = [
        heading(f"{campaign.title} 提出状況", size="Large"),
        facts([("締切", jst(campaign.deadline)), ("更新", jst(status.as_of))]),
    ]
    for progress in status.wgs:
        if progress.note:
            body.append(
                container(
                    [text(progress.wg_name, weight="Bolder"), text(progress.note, isSubtle=True)],
                    separator=True,
                )
            )
            continue
        if progress.applications is not None:
            body.append(
                container(
                    [text(progress.wg_name, weight="Bolder"), text(f"公募：応募 {progress.applications} 件")],
                    separator=True,
                )
            )
            continue
        done, expected = len(progress.submitted), progress.expected
        items: list[Element] = [
            text(f"{progress.wg_name}　{done} / {expected} 所属 提出済み", weight="Bolder"),
        ]
        if progress.missing:
            items.append(
                text(f"未提出（{len(progress.missing)}）：{'、'.join(progress.missing)}", color="attention")
            )
        else:
            items.append(text("全所属が提出済みです 🎉", color="good"))
        if progress.submitted:
            items.append(text(f"提出済み：{'、'.join(progress.submitted)}", isSubtle=True, size="Small"))
        body.append(container(items, separator=True, id=f"status-{progress.wg_id}"))
    refresh_action = execute("最新の状況に更新", verbs.CAMPAIGN_STATUS_REFRESH, data)
    return card(
        body,
        [refresh_action],
        # Teams runs an automatic refresh for at most 60 listed users; admins are a handful.
        refresh={"action": dict(refresh_action), "userIds": list(refresh_user_ids)[:60]},
        fallbackText=f"{campaign.title} 提出状況",
    )


def reminder_card(campaign: Campaign, department: Department, wgs: Sequence[WorkingGroup]) -> dict[str, Any]:
    """A reminder to a department that has not yet submitted, with a button to open the form."""
    body: list[Element] = [
        heading("WGメンバー推薦のリマインド ⏰"),
        text(f"{department.name} の推薦がまだ届いていません。締切は **{jst(campaign.deadline)}** です。"),
        text("対象：" + "、".join(wg.name for wg in wgs)),
        subtle("行き違いで提出済みの場合はご容赦ください。"),
    ]
    data = {"campaign_id": campaign.id, "department_code": department.code}
    return card(
        body,
        [execute("推薦フォームを開く", verbs.NOMINATION_OPEN, data)],
        fallbackText="WGメンバー推薦のリマインド",
    )


def open_application_announcement_card(campaign: Campaign, wgs: Sequence[WorkingGroup]) -> dict[str, Any]:
    """The channel post announcing the open-application WGs, with a button per WG to open its form."""
    body: list[Element] = [heading(f"{campaign.title}：公募WGのご案内", size="Large")]
    buttons = []
    for wg in wgs:
        body.append(
            container([text(wg.name, weight="Bolder"), text(wg.purpose, isSubtle=True)], separator=True)
        )
        if wg.themes:
            body.append(text("テーマ：" + "、".join(wg.themes), size="Small"))
        buttons.append(
            execute(
                f"{wg.name}に応募する", verbs.APPLICATION_OPEN, {"campaign_id": campaign.id, "wg_id": wg.id}
            )
        )
    body.append(facts([("締切", jst(campaign.deadline))]))
    if buttons:
        body.append(action_set(buttons))
    return card(body, fallbackText=f"{campaign.title}：公募WGのご案内")
