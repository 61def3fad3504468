"""Composition: build the real services, storage, rules and the outbound sender from the settings.

Everything expensive is created once here (the database engine, the HTTP clients, the msal
clients, the rule set); nothing is built per request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bot.domain import ConversationRef, IncomingMessage
from bot.graph import GraphClient
from bot.metrics import Metrics
from bot.ports import SendResult
from bot.services.actions import ActionRegistry
from bot.services.bot import BotService
from bot.services.nominations import NominationConfig, NominationService
from bot.services.nudges import NudgeConfig, NudgeService
from bot.services.stats_sink import RecorderSink
from bot.services.userkey import UserKeyer
from bot.settings import Settings
from bot.stats import DepartmentResolver, StatsRecorder
from bot.stats.digest import DigestSchedule, WeeklyDigestJob
from bot.stats.marks import MarkStore
from bot.stats.queries import StatsQueries
from bot.storage import Database
from bot.teams.outbound import (
    GRAPH_SCOPE,
    ConnectorClient,
    RateLimits,
    SendLimiter,
    TeamsSender,
    TokenProvider,
    make_connector_http,
    make_http_session,
)
from bot.web import BackgroundTask, CleanupHook, ReadinessCheck
from policy_rules import RuleSet
from policy_rules.reload import ReloadingRuleSet
from wg.catalogue import load_catalogue
from wg.departments import load_departments

log = logging.getLogger(__name__)

RULES_RELOAD_INTERVAL_S = 2.0


@dataclass
class Services:
    """Everything the web app needs from the composition, plus what to close at shutdown."""

    handler: BotService
    sender: TeamsSender
    database: Database
    rules: ReloadingRuleSet
    nominations: NominationService
    stats_queries: StatsQueries
    marks: MarkStore
    readiness_checks: dict[str, ReadinessCheck]
    background_tasks: list[BackgroundTask]
    cleanup: list[CleanupHook]


def local_secret(settings: Settings, configured: str, name: str) -> bytes:
    """A configured secret, or (outside production, which requires it) a random one kept in DATA_DIR."""
    if configured:
        return configured.encode("utf-8")
    path = Path(settings.data_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def graph_authority(settings: Settings) -> str:
    """The msal authority for Graph: the login host of the cloud with the city's tenant."""
    parts = urlsplit(settings.login_authority)
    return f"{parts.scheme}://{parts.netloc}/{settings.microsoft_app_tenant_id}"


def dashboard_authority(settings: Settings) -> str:
    """Where admins sign in to the dashboard: DASHBOARD_AUTHORITY, else the city's tenant."""
    return settings.dashboard_authority.rstrip("/") or graph_authority(settings)


def _https_only(url: str) -> bool:
    """Outside local mode replies go over https only (the token's serviceurl claim was checked)."""
    return url.startswith("https://")


async def build_services(settings: Settings, metrics: Metrics) -> Services:
    """Create storage (migrated), rules, msal token providers, the sender and the services."""
    database = Database.connect(settings.database_url)
    await database.migrate()

    rules = ReloadingRuleSet([settings.rules_dir] if settings.rules_dir.is_dir() else [])

    def current_rules() -> RuleSet:
        return rules.current

    session: aiohttp.ClientSession = make_http_session()
    connector_http = make_connector_http()
    token_providers: list[TokenProvider] = []
    bot_tokens: TokenProvider | None = None
    graph: GraphClient | None = None
    if not settings.local_mode:
        managed = settings.microsoft_app_type == "UserAssignedMSI"
        password = settings.microsoft_app_password.get_secret_value()
        bot_tokens = TokenProvider(
            settings.microsoft_app_id,
            password,
            authority=settings.login_authority,
            scope=settings.outgoing_oauth_scope,
            managed_identity=managed,
        )
        token_providers.append(bot_tokens)
        if settings.microsoft_app_tenant_id:
            # Graph (files in channels and chats, departments) needs a token from the city's own tenant
            graph_tokens = TokenProvider(
                settings.microsoft_app_id,
                password,
                authority=graph_authority(settings),
                scope=GRAPH_SCOPE,
                managed_identity=managed,
            )
            token_providers.append(graph_tokens)
            graph = GraphClient(session, graph_tokens.get_token, base_url=settings.graph_base_url)

    connector = ConnectorClient(
        connector_http,
        bot_tokens.get_token if bot_tokens else None,
        limiter=SendLimiter(
            RateLimits(global_rate=settings.outbound_global_rate, global_burst=settings.outbound_global_rate)
        ),
        calls_counter=metrics.outgoing_calls_total,
        retries_counter=metrics.outgoing_retries_total,
        # the connector itself allows https anywhere and http on loopback (local mode, emulator)
        is_trusted_service_url=None if settings.local_mode else _https_only,
    )
    keyer = UserKeyer(local_secret(settings, settings.user_key_secret.get_secret_value(), "user-key-secret"))
    recorder = StatsRecorder(
        database.stats,
        database.distinct_users,
        database.activity_claims,
        flush_interval_s=settings.stats_flush_interval_seconds,
    )
    departments = (
        DepartmentResolver(graph.user_department, timeout_s=settings.department_lookup_timeout_seconds)
        if graph is not None
        else None
    )
    marks = MarkStore(database.marks)
    await marks.import_file(Path(settings.data_dir) / "stats_marks.json")  # an older version's file
    queries = StatsQueries(
        database.stats, database.distinct_users, marks, rule_titles=lambda: rules.current.short_titles()
    )
    actions = ActionRegistry()

    nudges_holder: list[NudgeService] = []

    async def on_sent(tag: str, result: SendResult) -> None:
        await nudges_holder[0].on_sent(tag, result)

    async def remember_personal(person_key: str, ref: ConversationRef) -> None:
        await database.conversations.remember(ref, user_aad_id=person_key)

    sender = TeamsSender(
        connector,
        bot_id=f"28:{settings.microsoft_app_id}" if settings.microsoft_app_id else "",
        targeted_enabled=settings.targeted_messages_enabled,
        personal_conversation_lookup=database.conversations.personal_for_user,
        remember_personal_conversation=remember_personal,
        on_sent=on_sent,
        queue_size=settings.outbound_queue_size,
        workers=settings.outbound_concurrency,
        queue_depth_gauge=metrics.outgoing_queue_depth,
    )

    async def attachments_via_graph(message: IncomingMessage) -> Sequence[tuple[str, str]]:
        if graph is None:
            return ()
        conversation = message.conversation
        if conversation.kind == "channel" and conversation.team_aad_group_id and conversation.channel_id:
            root = conversation.thread_root_id if message.is_reply else None
            found = await graph.channel_message_attachments(
                conversation.team_aad_group_id, conversation.channel_id, message.activity_id, root_id=root
            )
        elif conversation.kind == "groupChat":
            found = await graph.chat_message_attachments(conversation.conversation_id, message.activity_id)
        else:
            return ()
        return list(found)

    nudges = NudgeService(
        rules=current_rules,
        state=database.nudges,
        conversations=database.conversations,
        keyer=keyer,
        config=NudgeConfig(
            per_rule_daily_cap=settings.nudge_per_rule_daily_cap,
            overall_daily_cap=settings.nudge_daily_cap,
            howto_urls=dict(settings.howto_urls),
        ),
        stats=RecorderSink(recorder, departments),
        attachment_lookup=attachments_via_graph if graph is not None else None,
        on_nudge=lambda rule_id: metrics.nudges_total.labels(rule_id).inc(),
    )
    nudges_holder.append(nudges)
    admins = frozenset(a.lower() for a in settings.wg_admin_ids)
    if settings.local_mode and not admins:
        # so that the playground's sample admin (前橋 太郎) can try the WG commands locally
        from bot.playground.personas import WG_ADMIN_AAD_ID

        admins = frozenset({WG_ADMIN_AAD_ID.lower()})

    def is_admin(aad_id: str | None) -> bool:
        return aad_id is not None and aad_id.lower() in admins

    handler = BotService(
        rules=current_rules,
        nudges=nudges,
        conversations=database.conversations,
        actions=actions,
        claims=database.activity_claims,
        howto_urls=dict(settings.howto_urls),
        portal_url=settings.portal_url or None,
        is_admin=is_admin,
    )

    nominations = NominationService(
        nominations=database.nominations,
        conversations=database.conversations,
        catalogue=load_catalogue(settings.wg_catalogue_path),
        directory=load_departments(settings.wg_departments_csv),
        is_admin=is_admin,
        sender=sender,
        job_runs=database.job_runs,
        config=NominationConfig(
            announcement_channel_id=settings.wg_announcement_channel_id or None,
            deadline_days=settings.wg_deadline_days,
            export_base_url=settings.public_base_url
            or (f"http://127.0.0.1:{settings.port}" if settings.local_mode else None),
        ),
        admin_ids=lambda: sorted(admins),
    )
    nominations.register(actions, handler)
    await nominations.start()
    reminders_stop = asyncio.Event()

    async def run_reminders() -> None:
        await nominations.run_reminders(reminders_stop)

    async def reload_rules() -> None:
        while True:
            await asyncio.sleep(RULES_RELOAD_INTERVAL_S)
            try:
                if rules.check_for_changes():
                    log.info("rules reloaded: version %s", rules.current.version)
                elif rules.errors:
                    log.debug("rules directory has errors; the previous rules stay in force")
            except Exception:
                log.exception("checking the rules directory failed")

    async def rules_ready() -> object:
        if rules.errors:
            raise RuntimeError(
                f"{len(rules.errors)} error(s) in the rules; previous version {rules.current.version} in force"
            )
        return True

    digest: WeeklyDigestJob | None = None
    if settings.digest_channel_id:
        digest = WeeklyDigestJob(
            queries=queries,
            job_runs=database.job_runs,
            conversations=database.conversations,
            sender=sender,
            channel_id=settings.digest_channel_id,
            schedule=DigestSchedule(weekday=settings.digest_weekday, at=settings.digest_time),
            dashboard_url=f"{settings.public_base_url.rstrip('/')}/dashboard"
            if settings.public_base_url
            else None,
        )

    async def close_all() -> None:
        reminders_stop.set()
        await nominations.drain()
        if digest is not None:
            await digest.close()
        await sender.stop(drain=True)  # first: what it still sends is counted by the recorder
        await recorder.close()
        await session.close()
        await connector_http.close()
        for provider in token_providers:
            provider.close()
        await database.close()

    await sender.start()
    recorder.start()
    if digest is not None:
        digest.start()
    return Services(
        handler=handler,
        sender=sender,
        database=database,
        rules=rules,
        nominations=nominations,
        stats_queries=queries,
        marks=marks,
        readiness_checks={"database": database.ping, "rules": rules_ready},
        background_tasks=[reload_rules, run_reminders],
        cleanup=[close_all],
    )
