"""Entry point: ``python app.py`` reads the settings, builds the services and serves the bot."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot.metrics import Metrics
from bot.settings import Settings, SettingsError, load_settings
from bot.web import create_app

log = logging.getLogger("app")


def build_app(settings: Settings) -> web.Application:
    """The production application: real services, sender and readiness checks."""
    # imported here so that `python app.py` with wrong settings fails fast without loading them
    from bot.service import build_services

    metrics = Metrics()
    handler, sender, readiness_checks, background_tasks = build_services(settings, metrics)
    return create_app(
        settings,
        handler=handler,
        sender=sender,
        readiness_checks=readiness_checks,
        background_tasks=background_tasks,
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
    app = build_app(settings)
    log.info("listening on %s:%d (%s)", settings.host, settings.port, settings.environment)
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
