"""Entry point: ``python app.py`` reads the settings, builds the services and serves the bot."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot.metrics import Metrics
from bot.settings import Settings, SettingsError, load_settings
from bot.web import create_app

log = logging.getLogger("app")


async def build_app(settings: Settings) -> web.Application:
    """The production application: real services, sender, readiness checks and cleanup."""
    # imported here so that `python app.py` with wrong settings fails fast without loading them
    from bot.service import build_services

    metrics = Metrics()
    services = await build_services(settings, metrics)
    return create_app(
        settings,
        handler=services.handler,
        sender=services.sender,
        readiness_checks=services.readiness_checks,
        background_tasks=services.background_tasks,
        cleanup=services.cleanup,
        metrics=metrics,
    )


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
    log.info("starting on %s:%d (%s)", settings.host, settings.port, settings.environment)
    web.run_app(build_app(settings), host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
