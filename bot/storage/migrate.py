"""Alembic set up from code, so migrations run from ``Database.migrate()`` and the CLI alike."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_on_connection(connection: sa.Connection, revision: str = "head") -> None:
    """Upgrade using an open connection (inside the caller's transaction and lock)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def current_on_connection(connection: sa.Connection) -> str | None:
    """The revision recorded in the database."""
    return MigrationContext.configure(connection).get_current_revision()
