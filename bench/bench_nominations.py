"""Benchmark: WG nominations from 80 departments at once, through the service and the endpoint.

Every department submits its form concurrently, ``--rounds`` times (each round changes the
data, so rounds after the first are edits); every submission arrives twice at once (a double
click) and, after the timed part of the round, once more (a Teams retry after a timeout).
Afterwards the database must hold exactly one active submission per department and WG, at
version ``rounds``, with ``rounds`` audit entries each: none lost, none duplicated.

Through the endpoint, the requests come from a child process (as Teams' would come from
elsewhere): an HTTP client on the server's own event loop would take half of its CPU.

Baseline, measured in the same run: the same forms written straight into the repository
(``Nominations.submit_form``), without validation, cards or the duplicate-person check.

    .venv/bin/python -m bench.bench_nominations [--rounds 3] [--postgres URL | --no-postgres]

Target: at least 200 submissions per second on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.domain import CardAction, ConversationRef, IncomingMessage, Outgoing, Person
from bot.ports import SendResult
from bot.services.actions import ActionRegistry
from bot.services.bot import BotService
from bot.services.commands import parse_command
from bot.services.nominations import CommandHandler, NominationConfig, NominationService
from bot.services.nudges import NudgeService
from bot.services.userkey import UserKeyer
from bot.settings import load_settings
from bot.storage import Database, Nominee
from bot.web import create_app
from cards import verbs
from policy_rules.reload import ReloadingRuleSet
from wg.catalogue import load_catalogue
from wg.departments import Department, DepartmentDirectory, load_departments
from wg.forms import nominee_field

TARGET_SQLITE_PER_S = 200.0
ADMIN = "aaaaaaaa-0000-4000-8000-000000000001"
ADMIN_CHAT = ConversationRef("a:admin", "personal", "https://smba.example.test/", tenant_id="t")
START = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class NullSender:
    """Accepts everything and keeps each person's last card (the bench measures the service, not Teams)."""

    def __init__(self) -> None:
        self.cards: dict[str, dict[str, Any]] = {}

    async def send(self, outgoing: Outgoing) -> SendResult:
        if outgoing.recipient is not None and outgoing.recipient.aad_object_id and outgoing.card:
            self.cards[outgoing.recipient.aad_object_id] = outgoing.card
        return SendResult("x", outgoing.delivery, ok=True)

    def enqueue(self, outgoing: Outgoing) -> bool:
        return True


class Commands:
    def __init__(self) -> None:
        self.handlers: dict[str, CommandHandler] = {}

    def add_command(self, name: str, handler: CommandHandler) -> None:
        self.handlers[name] = handler


def directory_with_contacts() -> DepartmentDirectory:
    """The shipped ~80 departments, each with one contact."""
    return DepartmentDirectory(
        Department(d.code, d.name, (f"cccccccc-0000-4000-8000-{i:012d}",))
        for i, d in enumerate(load_departments(), start=1)
    )


def person(department_index: int, wg_index: int) -> str:
    return f"eeeeeeee-{department_index:04d}-4000-8000-{wg_index:012d}"


@dataclass
class Result:
    backend: str
    submissions: int
    seconds: float
    baseline_writes: int
    baseline_seconds: float
    problems: list[str]

    @property
    def per_second(self) -> float:
        return self.submissions / self.seconds

    @property
    def baseline_per_second(self) -> float:
        return self.baseline_writes / self.baseline_seconds


JSON = {"Content-Type": "application/json"}


def invoke_activity(verb: str, department: Department, data: dict[str, Any], activity: str) -> bytes:
    """An ``adaptiveCard/action`` invoke as Teams posts it."""
    return json.dumps(
        {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "id": activity,
            "timestamp": "2026-04-21T01:00:00.000Z",
            "serviceUrl": "http://127.0.0.1:9/",
            "channelId": "msteams",
            "from": {"id": f"29:{department.code}", "aadObjectId": department.contacts[0], "name": "担当者"},
            "conversation": {"id": f"a:{department.code}", "conversationType": "personal", "tenantId": "t"},
            "recipient": {"id": "28:bot", "name": "bot"},
            "replyToId": "card-1",
            "channelData": {"tenant": {"id": "t"}},
            "value": {
                "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}},
                "trigger": "manual",
            },
        },
        ensure_ascii=False,
    ).encode("utf-8")


@dataclass
class Endpoint:
    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_endpoint(service: NominationService, actions: ActionRegistry, db: Database) -> Endpoint:
    """The real app (local mode, loopback) with the real BotService around the nomination service."""
    rules = ReloadingRuleSet()
    nudges = NudgeService(
        rules=lambda: rules.current,
        state=db.nudges,
        conversations=db.conversations,
        keyer=UserKeyer(b"k" * 32),
    )
    handler = BotService(
        rules=lambda: rules.current,
        nudges=nudges,
        conversations=db.conversations,
        actions=actions,
        claims=db.activity_claims,  # as the composition wires it
    )
    app = create_app(load_settings(ENVIRONMENT="test"), handler=handler, sender=NullSender())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return Endpoint(f"http://127.0.0.1:{port}/api/messages", runner)


@dataclass
class PlannedDepartment:
    """What the load needs of a department: who submits which WGs, and the card they got."""

    index: int
    code: str
    contact: str
    wg_ids: list[str]
    request_card: dict[str, Any]

    @property
    def department(self) -> Department:
        return Department(self.code, self.code, (self.contact,))


@dataclass
class LoadPlan:
    campaign_id: str
    rounds: int
    departments: list[PlannedDepartment]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> LoadPlan:
        data = json.loads(raw)
        return cls(data["campaign_id"], data["rounds"], [PlannedDepartment(**d) for d in data["departments"]])


Click = Callable[[str, Department, dict[str, Any], str], Awaitable[Any]]


async def drive(click: Click, plan: LoadPlan) -> float:
    """Every department submits its form at once, ``plan.rounds`` times; the timed seconds.

    Each submission arrives twice at once (a double click) and, after the timed part of the
    round, once more (a Teams retry after a timeout). Rounds after the first start from the
    form the receipt's 変更する opens (outside the timing).
    """
    forms: dict[str, dict[str, Any]] = {p.code: p.request_card for p in plan.departments}
    sent: dict[str, tuple[dict[str, Any], str]] = {}

    def values(planned: PlannedDepartment, round_no: int) -> dict[str, str]:
        data: dict[str, str] = {}
        for wg_index, wg_id in enumerate(planned.wg_ids):
            data[nominee_field(wg_id, 1, "name")] = f"職員{planned.index}-{wg_index}"
            data[nominee_field(wg_id, 1, "aad")] = person(planned.index, wg_index)
            data[nominee_field(wg_id, 1, "position")] = "主任"
            data[nominee_field(wg_id, 1, "status")] = "new"
            data[nominee_field(wg_id, 1, "note")] = f"第{round_no}回"
        return data

    def prepare(planned: PlannedDepartment, round_no: int) -> None:
        """Fill in the form (the person's part, before the timing starts)."""
        card = forms[planned.code]
        submit_data = next(a["data"] for a in card["actions"] if a["verb"] == verbs.NOMINATION_SUBMIT)
        data = {k: v for k, v in submit_data.items() if k != "verb"} | values(planned, round_no)
        sent[planned.code] = (data, f"{planned.code}-{round_no}")

    async def submit(planned: PlannedDepartment) -> tuple[Any, Any]:
        data, activity = sent[planned.code]
        first, second = await asyncio.gather(
            click(verbs.NOMINATION_SUBMIT, planned.department, data, activity),
            click(verbs.NOMINATION_SUBMIT, planned.department, data, activity),  # a double click
        )
        return first, second

    async def late_retry(planned: PlannedDepartment) -> None:
        """Teams redelivering after a timeout: reaches the storage, whose key must hold."""
        data, activity = sent[planned.code]
        answer = await click(verbs.NOMINATION_SUBMIT, planned.department, data, activity)
        assert "受け付けました" in str(answer), str(answer)[:300]

    async def edit_form(planned: PlannedDepartment) -> None:
        """What the receipt's 変更する answers: a fresh form."""
        data = {"campaign_id": plan.campaign_id, "department_code": planned.code}
        forms[planned.code] = await click(verbs.NOMINATION_EDIT, planned.department, data, "e")

    seconds = 0.0
    for round_no in range(1, plan.rounds + 1):
        if round_no > 1:
            await asyncio.gather(*(edit_form(p) for p in plan.departments))
        for planned in plan.departments:
            prepare(planned, round_no)
        started = time.perf_counter()
        answers = await asyncio.gather(*(submit(p) for p in plan.departments))
        seconds += time.perf_counter() - started
        for answer in (a for pair in answers for a in pair):
            assert "受け付けました" in str(answer), str(answer)[:300]
        await asyncio.gather(*(late_retry(p) for p in plan.departments))  # not timed
    return seconds


async def drive_endpoint(url: str, plan: LoadPlan) -> float:
    """``drive`` with every click an invoke POSTed to the endpoint."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:

        async def post(verb: str, department: Department, data: dict[str, Any], activity: str) -> Any:
            body = invoke_activity(verb, department, data, activity)
            async with session.post(url, data=body, headers=JSON) as response:
                assert response.status == 200, await response.text()
                return (await response.json())["value"]

        return await drive(post, plan)


async def load_from_other_process(url: str, plan: LoadPlan) -> float:
    """Run ``drive_endpoint`` in a child process, so that the client does not share our CPU.

    On the same event loop the HTTP client's work (building, sending and parsing requests)
    competes with the server it measures; a real Teams load comes from elsewhere.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_nominations",
        "--load-client",
        url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate(plan.to_json())
    if child.returncode != 0:
        raise RuntimeError(f"the load process failed (exit {child.returncode})")
    return float(json.loads(out)["seconds"])


def load_client(url: str) -> int:
    """The child side of ``load_from_other_process``: the plan on stdin, the seconds on stdout."""
    plan = LoadPlan.from_json(sys.stdin.buffer.read())
    seconds = asyncio.run(drive_endpoint(url, plan))
    print(json.dumps({"seconds": seconds}))
    return 0


async def run(url: str, backend: str, rounds: int, via: str = "service") -> Result:
    db = Database.connect(url)
    await db.migrate()
    catalogue = load_catalogue()
    directory = directory_with_contacts()
    sender = NullSender()
    service = NominationService(
        nominations=db.nominations,
        conversations=db.conversations,
        catalogue=catalogue,
        directory=directory,
        is_admin=lambda aad: aad == ADMIN,
        sender=sender,
        job_runs=db.job_runs,
        config=NominationConfig(),
        clock=lambda: START,
    )
    actions, commands = ActionRegistry(), Commands()
    service.register(actions, commands)
    await service.start()
    message = IncomingMessage(
        "start-1", ADMIN_CHAT, Person("29:admin", ADMIN), "キャンペーン開始 2026 2026-05-15", ""
    )
    command = parse_command(message)
    assert command is not None
    await commands.handlers[command.name](message, command)
    await service.drain()
    campaign_id = "fy2026"

    # forms as the contacts have them (each rendering carries its own idempotency nonce)
    departments = list(directory)
    wgs_of = {d.code: catalogue.for_department(d.name) for d in departments}

    async def dispatch(verb: str, department: Department, data: dict[str, Any], activity: str) -> Any:
        action = CardAction(
            activity_id=activity,
            conversation=ConversationRef(f"a:{department.code}", "personal", ADMIN_CHAT.service_url),
            sender=Person("29:x", department.contacts[0]),
            verb=verb,
            data={"verb": verb, **data},
        )
        result, _ = await actions.dispatch(action)
        return result.card

    plan = LoadPlan(
        campaign_id=campaign_id,
        rounds=rounds,
        departments=[
            PlannedDepartment(
                index=i,
                code=d.code,
                contact=d.contacts[0],
                wg_ids=[wg.id for wg in wgs_of[d.code]],
                request_card=sender.cards[d.contacts[0]],
            )
            for i, d in enumerate(departments, start=1)
        ],
    )
    if via == "endpoint":
        endpoint = await start_endpoint(service, actions, db)
        try:
            seconds = await load_from_other_process(endpoint.url, plan)
        finally:
            await endpoint.close()
    else:
        seconds = await drive(dispatch, plan)
    submissions = len(departments) * rounds  # distinct form submissions (retries excluded)

    problems: list[str] = []
    for department in departments:
        stored = await db.nominations.list_submissions(campaign_id, department_code=department.code)
        expected = {wg.id for wg in wgs_of[department.code]}
        if {s.wg_id for s in stored} != expected or len(stored) != len(expected):
            problems.append(f"{department.code}: {len(stored)} submissions, expected {len(expected)}")
        for submission in stored:
            trail = await db.nominations.audit_trail(campaign_id, submission.id)
            if submission.version != rounds or len(trail) != rounds:
                problems.append(
                    f"{department.code}/{submission.wg_id}: version {submission.version}, "
                    f"{len(trail)} audit entries, expected {rounds}"
                )
            if [n.note for n in submission.nominees] != [f"第{rounds}回"]:
                problems.append(f"{department.code}/{submission.wg_id}: not the last round's data")

    # baseline: the same number of repository writes, straight, on a second campaign
    baseline = await db.nominations.create_campaign(
        fiscal_year=2099,
        wg_ids=[wg.id for wg in catalogue],
        opens_at=START,
        deadline=datetime(2099, 5, 15, tzinfo=UTC),
        reminder_schedule=[],
        created_by=ADMIN,
    )

    async def write_form(round_no: int, department: Department, index: int) -> None:
        await db.nominations.submit_form(
            baseline.id,
            department.code,
            [
                (wg.id, [Nominee(f"職員{index}", person(index, wg_index), "主任", False, f"第{round_no}回")])
                for wg_index, wg in enumerate(wgs_of[department.code])
            ],
            by=department.contacts[0],
            idempotency_key=f"bench:{uuid.uuid4().hex}",
            now=START,
        )

    started = time.perf_counter()
    for round_no in range(1, rounds + 1):
        await asyncio.gather(*(write_form(round_no, d, i) for i, d in enumerate(departments, start=1)))
    baseline_seconds = time.perf_counter() - started
    await db.close()
    return Result(backend, submissions, seconds, submissions, baseline_seconds, problems)


async def with_postgres(admin_url: str, body: Callable[[str], Awaitable[Result]]) -> Result | str:
    name = f"bench_nominations_{os.getpid()}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable ({exc!r})"
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        return await body(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def report(result: Result) -> None:
    ratio = result.per_second / result.baseline_per_second
    print(
        f"{result.backend:<10} {result.submissions:>5} forms in {result.seconds:6.2f} s = "
        f"{result.per_second:7.1f} submissions/s | baseline (repository only): "
        f"{result.baseline_per_second:7.1f} forms/s | service/baseline = {ratio:.2f}"
    )
    for problem in result.problems[:10]:
        print(f"  PROBLEM {problem}")
    print(
        f"  check: {'OK, none lost or duplicated' if not result.problems else f'{len(result.problems)} problems'}"
    )


async def main_async(args: argparse.Namespace) -> int:
    failed = False
    for via in ("service", "endpoint"):
        print(
            f"-- through the {'service (ActionRegistry.dispatch)' if via == 'service' else 'real endpoint POST /api/messages (local mode)'}"
        )
        tmp = Path(tempfile.mkdtemp(prefix="bench-nominations-"))
        try:
            sqlite = await run(f"sqlite:///{tmp / 'bot.db'}", "sqlite", args.rounds, via)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        report(sqlite)
        failed |= bool(sqlite.problems)
        if sqlite.per_second < TARGET_SQLITE_PER_S:
            print(
                f"  BELOW TARGET: {sqlite.per_second:.1f} < {TARGET_SQLITE_PER_S:.0f} submissions/s on SQLite"
            )
            failed = True
        else:
            print(f"  target {TARGET_SQLITE_PER_S:.0f}/s on SQLite: met")
        if not args.no_postgres:
            outcome = await with_postgres(
                args.postgres,
                lambda url, via=via: run(url, "postgresql", args.rounds, via),  # type: ignore[misc]
            )
            if isinstance(outcome, str):
                print(f"postgresql skipped: {outcome}")
            else:
                report(outcome)
                failed |= bool(outcome.problems)
    return 1 if failed else 0


def main() -> int:
    """Run the benchmark; exit status 1 when a check or the SQLite target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="submissions per department (default 3)")
    parser.add_argument("--postgres", default=PG_ADMIN_URL, help="maintenance database URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--load-client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_client:
        return load_client(args.load_client)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
