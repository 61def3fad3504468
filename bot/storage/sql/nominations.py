"""WG nominations: departments, campaigns, submissions, applications, audit trail, reminders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from bot.storage.errors import CampaignClosed, NotFound
from bot.storage.models import (
    applications,
    campaigns,
    departments,
    nomination_audit,
    reminder_claims,
    submissions,
    submit_actions,
)
from bot.storage.ports import (
    Application,
    AuditEntry,
    Campaign,
    CampaignStatus,
    Department,
    Nominee,
    Submission,
    WgStatus,
)
from bot.storage.sql._common import (
    SqlRepository,
    chunks,
    insert_for,
    per_dialect,
    rows,
    unique_in_order,
    utcnow,
)


def _new_id() -> str:
    return uuid.uuid4().hex


def _jsonable(value: Any) -> Any:
    """Make a record JSON-safe for the audit trail (datetimes as ISO text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Nominee):
        return _nominee_dict(value)
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _department(row: Any) -> Department:
    return Department(
        code=row.code,
        name=row.name,
        contacts=tuple(row.contacts),
        active=bool(row.active),
        sort_order=row.sort_order,
    )


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        fiscal_year=row.fiscal_year,
        wg_ids=tuple(row.wg_ids),
        opens_at=row.opens_at,
        deadline=row.deadline,
        reminder_schedule=tuple(datetime.fromisoformat(item) for item in row.reminder_schedule),
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        wg_departments={wg: tuple(codes) for wg, codes in row.wg_departments.items()},
    )


def _nominee(data: Mapping[str, Any]) -> Nominee:
    return Nominee(
        name=data["name"],
        aad_id=data["aad_id"],
        position=data.get("position", ""),
        continuing=bool(data.get("continuing", False)),
        note=data.get("note", ""),
    )


def _submission(row: Any) -> Submission:
    return Submission(
        id=row.id,
        campaign_id=row.campaign_id,
        department_code=row.department_code,
        wg_id=row.wg_id,
        nominees=tuple(_nominee(item) for item in row.nominees),
        status=row.status,
        version=row.version,
        submitted_by=row.submitted_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _application(row: Any) -> Application:
    return Application(
        id=row.id,
        campaign_id=row.campaign_id,
        applicant_aad_id=row.applicant_aad_id,
        applicant_name=row.applicant_name,
        department_code=row.department_code,
        wg_id=row.wg_id,
        themes=tuple(row.themes),
        motivation=row.motivation,
        supervisor_agreed=bool(row.supervisor_agreed),
        status=row.status,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        position=row.position or "",
    )


def _nominee_dict(nominee: Nominee) -> dict[str, Any]:
    return {
        "name": nominee.name,
        "aad_id": nominee.aad_id,
        "position": nominee.position,
        "continuing": nominee.continuing,
        "note": nominee.note,
    }


def _audit_image(record: Any) -> dict[str, Any]:
    """What the audit trail keeps of a record: every field, JSON-safe."""
    return {f.name: _jsonable(getattr(record, f.name)) for f in fields(record)}


# -- transaction bodies (run by Database.write / Database.read) ------------------------------

_CLAIM_ACTION = per_dialect(
    lambda insert: (
        insert(submit_actions)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(submit_actions.c.idempotency_key)
    )
)
_ACTION_RESULT = sa.select(submit_actions.c.entity_id).where(
    submit_actions.c.idempotency_key == sa.bindparam("key")
)
_OPEN_CAMPAIGN = sa.select(campaigns).where(campaigns.c.id == sa.bindparam("id")).with_for_update(read=True)
_DEPARTMENT_EXISTS = sa.select(departments.c.code).where(departments.c.code == sa.bindparam("code"))
_INSERT_SUBMISSION = per_dialect(
    lambda insert: (
        insert(submissions)
        .on_conflict_do_nothing(index_elements=["campaign_id", "department_code", "wg_id"])
        .returning(submissions.c.id)
    )
)
_INSERT_AUDIT = sa.insert(nomination_audit)


def _upsert_departments(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    for part in chunks(values, 6):
        stmt = insert_for(conn, departments).values(list(part))
        updated = ("name", "contacts", "active", "sort_order", "updated_at")
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["code"], set_={name: stmt.excluded[name] for name in updated}
            )
        )


def _load_campaign(conn: sa.Connection, campaign_id: str, *, lock: bool = False) -> Campaign:
    query = sa.select(campaigns).where(campaigns.c.id == campaign_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("campaign", campaign_id)
    return _campaign(row)


def _open_campaign(conn: sa.Connection, campaign_id: str, wg_id: str | None, now: datetime) -> Campaign:
    """The campaign, share-locked so that a concurrent close waits; raises unless it accepts changes."""
    row = conn.execute(_OPEN_CAMPAIGN, {"id": campaign_id}).first()
    if row is None:
        raise NotFound("campaign", campaign_id)
    campaign = _campaign(row)
    if campaign.status != "open":
        raise CampaignClosed(campaign_id, "closed")
    if now > campaign.deadline:
        raise CampaignClosed(campaign_id, "deadline")
    if now < campaign.opens_at:
        raise CampaignClosed(campaign_id, "not-open-yet")
    if wg_id is not None and wg_id not in campaign.wg_ids:
        raise NotFound(f"WG in campaign {campaign_id}", wg_id)
    return campaign


def _audit_row(
    campaign_id: str,
    entity: str,
    entity_id: str,
    action: str,
    actor: str,
    at: datetime,
    before: Any,
    after: Any,
) -> dict[str, Any]:
    """The parameters of one audit row (``before`` / ``after``: records, or None)."""
    return {
        "campaign_id": campaign_id,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "actor": actor,
        "at": at,
        "before": _audit_image(before) if before is not None else None,
        "after": _audit_image(after) if after is not None else None,
    }


def _audit(
    conn: sa.Connection,
    campaign_id: str,
    entity: str,
    entity_id: str,
    action: str,
    actor: str,
    at: datetime,
    before: Any,
    after: Any,
) -> None:
    """Write one audit row now."""
    conn.execute(_INSERT_AUDIT, _audit_row(campaign_id, entity, entity_id, action, actor, at, before, after))


def _create_campaign(conn: sa.Connection, values: dict[str, Any]) -> Campaign:
    conn.execute(sa.insert(campaigns).values(**values))
    stored = _load_campaign(conn, values["id"])
    _audit(
        conn, stored.id, "campaign", stored.id, "create", stored.created_by, stored.created_at, None, stored
    )
    return stored


def _change_campaign(
    conn: sa.Connection, campaign_id: str, by: str, action: str, values: dict[str, Any]
) -> Campaign:
    now = utcnow()
    before = _load_campaign(conn, campaign_id, lock=True)
    conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id).values(updated_at=now, **values))
    after = _load_campaign(conn, campaign_id)
    _audit(conn, campaign_id, "campaign", campaign_id, action, by, now, before, after)
    return after


def _claim_action(
    conn: sa.Connection, key: str, entity: str, entity_id: str | None, now: datetime
) -> str | None:
    """Claim an idempotency key for ``entity_id``. None when newly claimed, else the id it produced."""
    params = {"idempotency_key": key, "entity": entity, "entity_id": entity_id, "at": now}
    if conn.execute(_CLAIM_ACTION[conn.dialect.name], params).first() is not None:
        return None
    # On PostgreSQL the insert above waited for the first claimer to commit.
    return str(conn.execute(_ACTION_RESULT, {"key": key}).scalar_one())


def _finish_action(conn: sa.Connection, key: str, entity_id: str) -> None:
    conn.execute(
        sa.update(submit_actions).where(submit_actions.c.idempotency_key == key).values(entity_id=entity_id)
    )


def _load_submission(conn: sa.Connection, submission_id: str) -> Submission:
    row = conn.execute(
        sa.select(submissions).where(submissions.c.id == submission_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("submission", submission_id)
    return _submission(row)


_SUBMISSION_OF_WG = (
    sa.select(submissions)
    .where(
        submissions.c.campaign_id == sa.bindparam("campaign_id"),
        submissions.c.department_code == sa.bindparam("department_code"),
        submissions.c.wg_id == sa.bindparam("wg_id"),
    )
    .with_for_update()
)
# In WG order, the order in which _submit_form goes through a form's WGs: two transactions
# then always lock a department's rows in the same order (PostgreSQL), so they cannot deadlock.
_SUBMISSIONS_OF_DEPARTMENT = (
    sa.select(submissions)
    .where(
        submissions.c.campaign_id == sa.bindparam("campaign_id"),
        submissions.c.department_code == sa.bindparam("department_code"),
    )
    .order_by(submissions.c.wg_id)
    .with_for_update()
)
_SUBMISSION_BY_ID = sa.select(submissions).where(submissions.c.id == sa.bindparam("sid"))
_REPLACE_NOMINEES = (
    sa.update(submissions)
    .where(submissions.c.id == sa.bindparam("sid"))
    .values(
        nominees=sa.bindparam("new_nominees", type_=submissions.c.nominees.type),
        status="submitted",
        version=submissions.c.version + 1,
        submitted_by=sa.bindparam("by"),
        updated_at=sa.bindparam("now", type_=submissions.c.updated_at.type),
    )
    .returning(*submissions.c)
)


def _replace_nominees(
    conn: sa.Connection, before: Submission, nominees: Sequence[Nominee], by: str, now: datetime
) -> tuple[Submission, dict[str, Any]]:
    """Put ``nominees`` in place of ``before``'s (resubmitting a withdrawn one); the audit row to write."""
    params = {"sid": before.id, "new_nominees": [_nominee_dict(n) for n in nominees], "by": by, "now": now}
    after = _submission(conn.execute(_REPLACE_NOMINEES, params).one())
    action = "submit" if before.status == "withdrawn" else "edit"
    return after, _audit_row(before.campaign_id, "submission", before.id, action, by, now, before, after)


class _FormWrite:
    """The state one write transaction keeps across the WGs it stores."""

    def __init__(self, campaign_id: str, department_code: str, by: str, now: datetime) -> None:
        self.campaign_id = campaign_id
        self.department_code = department_code
        self.by = by
        self.now = now
        self.campaign: Campaign | None = None  # checked once, at the first WG that changes
        self.audit_rows: list[dict[str, Any]] = []
        self._rows: dict[str, Any] | None = None
        self._department_checked = False

    def existing(self, conn: sa.Connection, wg_id: str) -> Any:
        """The department's row for ``wg_id``, or None; all its rows are read (and locked) at once."""
        if self._rows is None:
            # Locked first: a concurrent form of the same department waits here (PostgreSQL).
            params = {"campaign_id": self.campaign_id, "department_code": self.department_code}
            self._rows = {row.wg_id: row for row in conn.execute(_SUBMISSIONS_OF_DEPARTMENT, params)}
        return self._rows.get(wg_id)

    def check_open(self, conn: sa.Connection, wg_id: str) -> None:
        if self.campaign is None:
            self.campaign = _open_campaign(conn, self.campaign_id, None, self.now)
        if wg_id not in self.campaign.wg_ids:
            raise NotFound(f"WG in campaign {self.campaign_id}", wg_id)

    def check_department(self, conn: sa.Connection) -> None:
        """Before a first insert only: a stored row already proves the department (foreign key)."""
        if not self._department_checked:
            if conn.execute(_DEPARTMENT_EXISTS, {"code": self.department_code}).first() is None:
                raise NotFound("department", self.department_code)
            self._department_checked = True

    def flush_audit(self, conn: sa.Connection) -> None:
        if self.audit_rows:
            conn.execute(_INSERT_AUDIT, self.audit_rows)
            self.audit_rows = []


def _store_wg(
    conn: sa.Connection, form: _FormWrite, wg_id: str, nominees: Sequence[Nominee], key: str
) -> tuple[Submission, bool]:
    """Insert or replace one WG's submission under idempotency ``key`` (audit row queued)."""
    row = form.existing(conn, wg_id)
    entity_id = row.id if row is not None else _new_id()
    previous = _claim_action(conn, key, "submission", entity_id, form.now)
    if previous is not None:
        # A repeat answers what the first one stored, even after the deadline.
        found = conn.execute(_SUBMISSION_BY_ID, {"sid": previous}).first()
        if found is None:
            raise NotFound("submission", previous)
        return _submission(found), False
    form.check_open(conn, wg_id)
    by, now = form.by, form.now
    if row is None:
        form.check_department(conn)
        new = Submission(
            id=entity_id,
            campaign_id=form.campaign_id,
            department_code=form.department_code,
            wg_id=wg_id,
            nominees=tuple(nominees),
            status="submitted",
            version=1,
            submitted_by=by,
            created_at=now,
            updated_at=now,
        )
        values = {f.name: getattr(new, f.name) for f in fields(new)}
        values["nominees"] = [_nominee_dict(n) for n in nominees]
        if conn.execute(_INSERT_SUBMISSION[conn.dialect.name], values).first() is not None:
            form.audit_rows.append(
                _audit_row(form.campaign_id, "submission", entity_id, "submit", by, now, None, new)
            )
            return new, True
        # Another replica inserted it since we looked (under another key): replace theirs.
        where = {"campaign_id": form.campaign_id, "department_code": form.department_code, "wg_id": wg_id}
        row = conn.execute(_SUBMISSION_OF_WG, where).one()
        _finish_action(conn, key, row.id)
    after, audit_row = _replace_nominees(conn, _submission(row), nominees, by, now)
    form.audit_rows.append(audit_row)
    return after, True


def _submit(
    conn: sa.Connection,
    campaign_id: str,
    department_code: str,
    wg_id: str,
    nominees: Sequence[Nominee],
    by: str,
    key: str,
    now: datetime,
) -> tuple[Submission, bool]:
    form = _FormWrite(campaign_id, department_code, by, now)
    outcome = _store_wg(conn, form, wg_id, nominees, key)
    form.flush_audit(conn)
    return outcome


def _submit_form(
    conn: sa.Connection,
    campaign_id: str,
    department_code: str,
    nominees_by_wg: Sequence[tuple[str, Sequence[Nominee]]],
    by: str,
    key: str,
    now: datetime,
) -> list[tuple[Submission, bool]]:
    """Every WG of one department form in one transaction: all stored, or none.

    Each WG keeps its own idempotency key (``key:wg``), so a repeated form changes nothing.
    The statements have fixed shapes (compiled once) and the audit rows go in one
    executemany at the end: a form is one short transaction, one job for SQLite's writer.
    """
    form = _FormWrite(campaign_id, department_code, by, now)
    stored = {
        wg_id: _store_wg(conn, form, wg_id, nominees, f"{key}:{wg_id}")
        for wg_id, nominees in sorted(nominees_by_wg, key=lambda item: item[0])
    }
    form.flush_audit(conn)
    return [stored[wg_id] for wg_id, _ in nominees_by_wg]


def _edit(
    conn: sa.Connection,
    submission_id: str,
    nominees: Sequence[Nominee],
    by: str,
    key: str | None,
    now: datetime,
) -> Submission:
    if key is not None:
        previous = _claim_action(conn, key, "submission", submission_id, now)
        if previous is not None:
            return _load_submission(conn, previous)
    before = _load_submission(conn, submission_id)
    _open_campaign(conn, before.campaign_id, None, now)
    after, audit_row = _replace_nominees(conn, before, nominees, by, now)
    conn.execute(_INSERT_AUDIT, audit_row)
    return after


EntryT = TypeVar("EntryT", Submission, Application)


def _withdraw_entry(
    conn: sa.Connection,
    table: sa.Table,
    load: Callable[[sa.Connection, str], EntryT],
    entity: str,
    entry_id: str,
    by: str,
    now: datetime,
) -> EntryT:
    """Withdraw a submission or application until the deadline (idempotent, audited)."""
    before = load(conn, entry_id)
    if before.status == "withdrawn":
        return before
    _open_campaign(conn, before.campaign_id, None, now)
    conn.execute(
        sa.update(table)
        .where(table.c.id == entry_id)
        .values(status="withdrawn", version=table.c.version + 1, updated_at=now)
    )
    after = load(conn, entry_id)
    _audit(conn, before.campaign_id, entity, entry_id, "withdraw", by, now, before, after)
    return after


def _withdraw(conn: sa.Connection, submission_id: str, by: str, now: datetime) -> Submission:
    return _withdraw_entry(conn, submissions, _load_submission, "submission", submission_id, by, now)


def _withdraw_many(
    conn: sa.Connection, submission_ids: Sequence[str], by: str, now: datetime
) -> list[Submission]:
    """``_withdraw`` for each, in one transaction: if one raises, none is withdrawn."""
    # Locked in WG order first, the order a department form locks its rows (PostgreSQL): a
    # withdrawal and a form of the same department then cannot deadlock.
    conn.execute(
        sa.select(submissions.c.id)
        .where(submissions.c.id.in_(submission_ids))
        .order_by(submissions.c.wg_id)
        .with_for_update()
    ).all()
    return [_withdraw(conn, submission_id, by, now) for submission_id in submission_ids]


def _load_application(conn: sa.Connection, application_id: str) -> Application:
    row = conn.execute(
        sa.select(applications).where(applications.c.id == application_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("application", application_id)
    return _application(row)


def _apply(
    conn: sa.Connection,
    campaign_id: str,
    applicant_aad_id: str,
    answers: dict[str, Any],
    key: str,
    now: datetime,
) -> tuple[Application, bool]:
    a = applications
    new_id = _new_id()
    previous = _claim_action(conn, key, "application", new_id, now)
    if previous is not None:
        return _load_application(conn, previous), False
    _open_campaign(conn, campaign_id, answers["wg_id"], now)
    inserted = conn.execute(
        insert_for(conn, a)
        .values(
            id=new_id,
            campaign_id=campaign_id,
            applicant_aad_id=applicant_aad_id,
            status="submitted",
            version=1,
            created_at=now,
            updated_at=now,
            **answers,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "applicant_aad_id"])
        .returning(a.c.id)
    ).first()
    if inserted is not None:
        stored = _load_application(conn, new_id)
        _audit(conn, campaign_id, "application", new_id, "submit", applicant_aad_id, now, None, stored)
    else:
        existing_id = conn.execute(
            sa.select(a.c.id).where(a.c.campaign_id == campaign_id, a.c.applicant_aad_id == applicant_aad_id)
        ).scalar_one()
        before = _load_application(conn, existing_id)
        conn.execute(
            sa.update(a)
            .where(a.c.id == existing_id)
            .values(status="submitted", version=a.c.version + 1, updated_at=now, **answers)
        )
        stored = _load_application(conn, existing_id)
        action = "submit" if before.status == "withdrawn" else "edit"
        _audit(conn, campaign_id, "application", existing_id, action, applicant_aad_id, now, before, stored)
    _finish_action(conn, key, stored.id)
    return stored, True


def _withdraw_application(conn: sa.Connection, application_id: str, by: str, now: datetime) -> Application:
    return _withdraw_entry(conn, applications, _load_application, "application", application_id, by, now)


def _status(conn: sa.Connection, campaign_id: str) -> list[WgStatus]:
    campaign = _load_campaign(conn, campaign_id)
    all_codes = tuple(
        conn.execute(
            sa.select(departments.c.code)
            .where(departments.c.active.is_(True))
            .order_by(departments.c.sort_order, departments.c.code)
        ).scalars()
    )
    s, a = submissions, applications
    submitted_pairs = {
        (wg, code)
        for wg, code in conn.execute(
            sa.select(s.c.wg_id, s.c.department_code).where(
                s.c.campaign_id == campaign_id, s.c.status == "submitted"
            )
        )
    }
    applied: dict[str, int] = {
        wg: int(n)
        for wg, n in conn.execute(
            sa.select(a.c.wg_id, sa.func.count())
            .where(a.c.campaign_id == campaign_id, a.c.status == "submitted")
            .group_by(a.c.wg_id)
        )
    }
    result = []
    for wg_id in campaign.wg_ids:
        expected = campaign.wg_departments.get(wg_id, all_codes)
        done = [code for code in expected if (wg_id, code) in submitted_pairs]
        extra = sorted(code for wg, code in submitted_pairs if wg == wg_id and code not in expected)
        missing = [code for code in expected if (wg_id, code) not in submitted_pairs]
        result.append(WgStatus(wg_id, tuple(done + extra), tuple(missing), applied.get(wg_id, 0)))
    return result


def _claim_reminders(
    conn: sa.Connection, campaign_id: str, department_codes: Sequence[str], slot: str, now: datetime
) -> set[str]:
    claimed: set[str] = set()
    for part in chunks(department_codes, 4):
        stmt = (
            insert_for(conn, reminder_claims)
            .values(
                [
                    {"campaign_id": campaign_id, "department_code": code, "slot": slot, "claimed_at": now}
                    for code in part
                ]
            )
            .on_conflict_do_nothing(index_elements=["campaign_id", "department_code", "slot"])
            .returning(reminder_claims.c.department_code)
        )
        claimed.update(conn.execute(stmt).scalars())
    return claimed


# -- the repository ---------------------------------------------------------------------------


class SqlNominations(SqlRepository):
    """``Nominations`` on SQL; every change is written with its audit row in one transaction."""

    async def upsert_departments(self, items: Iterable[Department]) -> None:
        """Insert or replace departments by code."""
        now = utcnow()
        values = [
            {
                "code": d.code,
                "name": d.name,
                "contacts": list(d.contacts),
                "active": d.active,
                "sort_order": d.sort_order,
                "updated_at": now,
            }
            for d in {d.code: d for d in items}.values()
        ]
        if values:
            await self._db.write(_upsert_departments, values)

    async def list_departments(self, *, active_only: bool = True) -> list[Department]:
        """Departments in sort order."""
        query = sa.select(departments).order_by(departments.c.sort_order, departments.c.code)
        if active_only:
            query = query.where(departments.c.active.is_(True))
        return [_department(row) for row in await self._db.read(rows, query)]

    async def get_department(self, code: str) -> Department | None:
        """One department, or None."""
        found = await self._db.read(rows, sa.select(departments).where(departments.c.code == code))
        return _department(found[0]) if found else None

    async def departments_for_contact(self, aad_id: str) -> list[Department]:
        """Departments whose contacts include ``aad_id``."""
        # About 80 rows: filtering in Python keeps the JSON handling portable.
        return [d for d in await self.list_departments() if aad_id in d.contacts]

    async def create_campaign(
        self,
        *,
        fiscal_year: int,
        wg_ids: Sequence[str],
        opens_at: datetime,
        deadline: datetime,
        reminder_schedule: Sequence[datetime],
        created_by: str,
        wg_departments: Mapping[str, Sequence[str]] | None = None,
        campaign_id: str | None = None,
    ) -> Campaign:
        """Create an open campaign (audited)."""
        if deadline <= opens_at:
            raise ValueError("the deadline must be after the opening time")
        now = utcnow()
        values = {
            "id": campaign_id or _new_id(),
            "fiscal_year": fiscal_year,
            "wg_ids": list(dict.fromkeys(wg_ids)),
            "wg_departments": {wg: list(codes) for wg, codes in (wg_departments or {}).items()},
            "opens_at": opens_at,
            "deadline": deadline,
            "reminder_schedule": [item.isoformat() for item in sorted(reminder_schedule)],
            "status": "open",
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        return await self._db.write(_create_campaign, values)

    async def get_campaign(self, campaign_id: str) -> Campaign | None:
        """One campaign, or None."""
        found = await self._db.read(rows, sa.select(campaigns).where(campaigns.c.id == campaign_id))
        return _campaign(found[0]) if found else None

    async def list_campaigns(self, status: CampaignStatus | None = None) -> list[Campaign]:
        """Campaigns, newest first."""
        query = sa.select(campaigns).order_by(campaigns.c.created_at.desc(), campaigns.c.id)
        if status is not None:
            query = query.where(campaigns.c.status == status)
        return [_campaign(row) for row in await self._db.read(rows, query)]

    async def extend_deadline(self, campaign_id: str, deadline: datetime, *, by: str) -> Campaign:
        """Move the deadline (and reopen a closed campaign), audited."""
        return await self._db.write(
            _change_campaign, campaign_id, by, "extend", {"deadline": deadline, "status": "open"}
        )

    async def close_campaign(self, campaign_id: str, *, by: str) -> Campaign:
        """Close a campaign, audited."""
        return await self._db.write(_change_campaign, campaign_id, by, "close", {"status": "closed"})

    async def submit(
        self,
        campaign_id: str,
        department_code: str,
        wg_id: str,
        nominees: Sequence[Nominee],
        *,
        by: str,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> tuple[Submission, bool]:
        """Store a department's nominees for a WG; ``created`` is False for a repeated key."""
        return await self._db.write(
            _submit,
            campaign_id,
            department_code,
            wg_id,
            tuple(nominees),
            by,
            idempotency_key,
            now or utcnow(),
        )

    async def submit_form(
        self,
        campaign_id: str,
        department_code: str,
        nominees_by_wg: Sequence[tuple[str, Sequence[Nominee]]],
        *,
        by: str,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> list[tuple[Submission, bool]]:
        """Store a whole department form (several WGs) in one transaction."""
        items = [(wg_id, tuple(nominees)) for wg_id, nominees in nominees_by_wg]
        if not items:
            return []
        return await self._db.write(
            _submit_form, campaign_id, department_code, items, by, idempotency_key, now or utcnow()
        )

    async def edit(
        self,
        submission_id: str,
        nominees: Sequence[Nominee],
        *,
        by: str,
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> Submission:
        """Replace the nominees until the deadline (audited)."""
        return await self._db.write(
            _edit, submission_id, tuple(nominees), by, idempotency_key, now or utcnow()
        )

    async def withdraw_many(
        self, submission_ids: Sequence[str], *, by: str, now: datetime | None = None
    ) -> list[Submission]:
        """Withdraw several submissions in one transaction: all or none (audited; idempotent)."""
        wanted = unique_in_order(submission_ids)
        if not wanted:
            return []
        return await self._db.write(_withdraw_many, wanted, by, now or utcnow())

    async def find_submission(self, campaign_id: str, department_code: str, wg_id: str) -> Submission | None:
        """The department's submission for a WG, or None."""
        s = submissions
        query = sa.select(s).where(
            s.c.campaign_id == campaign_id, s.c.department_code == department_code, s.c.wg_id == wg_id
        )
        found = await self._db.read(rows, query)
        return _submission(found[0]) if found else None

    async def list_submissions(
        self, campaign_id: str, *, department_code: str | None = None, include_withdrawn: bool = False
    ) -> list[Submission]:
        """Submissions of a campaign."""
        s = submissions
        query = sa.select(s).where(s.c.campaign_id == campaign_id).order_by(s.c.wg_id, s.c.department_code)
        if department_code is not None:
            query = query.where(s.c.department_code == department_code)
        if not include_withdrawn:
            query = query.where(s.c.status == "submitted")
        return [_submission(row) for row in await self._db.read(rows, query)]

    async def apply(
        self,
        campaign_id: str,
        applicant_aad_id: str,
        *,
        applicant_name: str,
        wg_id: str,
        themes: Sequence[str],
        motivation: str,
        supervisor_agreed: bool,
        department_code: str | None = None,
        position: str = "",
        idempotency_key: str,
        now: datetime | None = None,
    ) -> tuple[Application, bool]:
        """Store (or replace) a person's open application; ``created`` False for a repeated key."""
        answers = {
            "applicant_name": applicant_name,
            "department_code": department_code,
            "position": position,
            "wg_id": wg_id,
            "themes": list(themes),
            "motivation": motivation,
            "supervisor_agreed": supervisor_agreed,
        }
        return await self._db.write(
            _apply, campaign_id, applicant_aad_id, answers, idempotency_key, now or utcnow()
        )

    async def withdraw_application(
        self, application_id: str, *, by: str, now: datetime | None = None
    ) -> Application:
        """Withdraw an open application until the deadline (audited)."""
        return await self._db.write(_withdraw_application, application_id, by, now or utcnow())

    async def get_application(self, campaign_id: str, applicant_aad_id: str) -> Application | None:
        """A person's application in a campaign, or None."""
        a = applications
        query = sa.select(a).where(a.c.campaign_id == campaign_id, a.c.applicant_aad_id == applicant_aad_id)
        found = await self._db.read(rows, query)
        return _application(found[0]) if found else None

    async def list_applications(
        self, campaign_id: str, *, include_withdrawn: bool = False
    ) -> list[Application]:
        """Applications of a campaign."""
        a = applications
        query = sa.select(a).where(a.c.campaign_id == campaign_id).order_by(a.c.wg_id, a.c.created_at, a.c.id)
        if not include_withdrawn:
            query = query.where(a.c.status == "submitted")
        return [_application(row) for row in await self._db.read(rows, query)]

    async def audit_trail(self, campaign_id: str, entity_id: str | None = None) -> list[AuditEntry]:
        """Audit entries in the order they happened."""
        t = nomination_audit
        query = sa.select(t).where(t.c.campaign_id == campaign_id).order_by(t.c.id)
        if entity_id is not None:
            query = query.where(t.c.entity_id == entity_id)
        return [
            AuditEntry(
                id=row.id,
                campaign_id=row.campaign_id,
                entity=row.entity,
                entity_id=row.entity_id,
                action=row.action,
                actor=row.actor,
                at=row.at,
                before=row.before,
                after=row.after,
            )
            for row in await self._db.read(rows, query)
        ]

    async def status(self, campaign_id: str) -> list[WgStatus]:
        """Per WG of the campaign: departments that submitted and those still missing."""
        return await self._db.read(_status, campaign_id)

    async def claim_reminders(self, campaign_id: str, department_codes: Iterable[str], slot: str) -> set[str]:
        """Claim a slot's reminder for several departments in one transaction; the codes claimed first."""
        # Inserted in one order by every caller (PostgreSQL): two replicas claiming overlapping
        # departments at once wait for each other instead of deadlocking.
        wanted = sorted(set(department_codes))
        if not wanted:
            return set()
        return await self._db.write(_claim_reminders, campaign_id, wanted, slot, utcnow())
