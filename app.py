"""Entry point: ``python app.py`` reads the settings, builds the services and serves the bot."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from aiohttp import web

from bot.metrics import Metrics
from bot.settings import Settings, SettingsError, load_settings
from bot.web import create_app

if TYPE_CHECKING:
    from bot.service import Services

log = logging.getLogger("app")


async def build_app(settings: Settings) -> web.Application:
    """The production application: real services, sender, readiness checks and cleanup."""
    # imported here so that `python app.py` with wrong settings fails fast without loading them
    from bot.service import build_services

    metrics = Metrics()
    services = await build_services(settings, metrics)
    app = create_app(
        settings,
        handler=services.handler,
        sender=services.sender,
        readiness_checks=services.readiness_checks,
        background_tasks=services.background_tasks,
        cleanup=services.cleanup,
        metrics=metrics,
    )
    add_pages(app, settings, services)
    return app


def add_pages(app: web.Application, settings: Settings, services: Services) -> None:
    """The admin dashboard always; the playground in local mode only."""
    from bot.dashboard import DashboardConfig, setup_dashboard
    from bot.dashboard.campaigns import campaign_status_from
    from bot.service import dashboard_authority, local_secret

    base = settings.public_base_url.rstrip("/")
    config = DashboardConfig(
        session_secret=local_secret(
            settings, settings.dashboard_session_secret.get_secret_value(), "dashboard-session-secret"
        ),
        admin_object_ids=frozenset(settings.wg_admin_ids),
        client_id=settings.microsoft_app_id,
        client_secret=settings.microsoft_app_password.get_secret_value(),
        authority=dashboard_authority(settings) if not settings.local_mode else "",
        redirect_uri=f"{base}/dashboard/auth/callback" if base else None,
    )
    setup_dashboard(
        app,
        config=config,
        stats_queries=services.stats_queries,
        marks=services.marks,
        campaign_status_provider=campaign_status_from(services.database.nominations),
    )
    from bot.nominations.web import setup_export_routes

    setup_export_routes(
        app,
        services.nominations,
        local_secret(settings, settings.export_link_secret.get_secret_value(), "export-link-secret"),
        job_runs=services.database.job_runs,
    )
    if settings.local_mode:
        from bot.playground import reloading_rules_status, setup_playground

        setup_playground(
            app,
            rules_dir=settings.rules_dir,
            rules_status=lambda: reloading_rules_status(services.rules),
        )
        log.warning("playground: open http://127.0.0.1:%d/playground in a browser", settings.port)


def main() -> int:
    """Validate the settings (listing every wrong value) and run the server until stopped."""
    try:
        settings = load_settings()
    except SettingsError as error:
        print("The bot cannot start; fix these settings:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin is noise
    log.info("starting on %s:%d (%s)", settings.host, settings.port, settings.environment)
    web.run_app(build_app(settings), host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
